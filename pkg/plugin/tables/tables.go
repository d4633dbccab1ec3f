// Package tables turns claims, templates and pools into metav1.Tables that
// kubectl's own printers render (columns, -o wide, --no-headers, --sort-by,
// --show-labels).
package tables

import (
	"strconv"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/duration"

	extv1beta1 "sigs.k8s.io/agent-sandbox/extensions/api/v1beta1"

	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/claims"
)

const none = "<none>"

func column(name, typ, desc string, priority int32) metav1.TableColumnDefinition {
	format := ""
	if name == "NAME" {
		format = "name"
	}
	return metav1.TableColumnDefinition{Name: name, Type: typ, Format: format, Description: desc, Priority: priority}
}

var claimColumns = []metav1.TableColumnDefinition{
	column("NAME", "string", "Claim name", 0),
	column("POOL", "string", "SandboxWarmPool the claim draws from", 0),
	column("TEMPLATE", "string", "SandboxTemplate of that pool", 0),
	column("READY", "string", "Status of the Ready condition", 0),
	column("REASON", "string", "Reason of the Ready condition", 0),
	column("SANDBOX", "string", "Bound Sandbox (the X-Sandbox-ID)", 0),
	column("AGE", "date", "Time since creation", 0),
	column("POD-IP", "string", "Sandbox pod IP", 1),
	column("LAUNCH", "string", "warm (adopted from the pool) or cold", 1),
	column("EXPIRES", "string", "lifecycle.shutdownTime", 1),
}

// PoolKey is the key of poolTemplates maps: namespace/pool.
func PoolKey(namespace, pool string) string { return namespace + "/" + pool }

// Claims builds the claim table. poolTemplates maps PoolKey to template
// name; a pool missing from it shows <unknown>.
func Claims(items []extv1beta1.SandboxClaim, poolTemplates map[string]string, now time.Time) *metav1.Table {
	t := &metav1.Table{ColumnDefinitions: claimColumns}
	for i := range items {
		t.Rows = append(t.Rows, ClaimRow(&items[i], poolTemplates, now))
	}
	return t
}

// ClaimRow builds one claim's row.
func ClaimRow(c *extv1beta1.SandboxClaim, poolTemplates map[string]string, now time.Time) metav1.TableRow {
	ready, reason := "", ""
	if cond := claims.ReadyCondition(c); cond != nil {
		ready, reason = string(cond.Status), cond.Reason
	}
	template, ok := poolTemplates[PoolKey(c.Namespace, c.Spec.WarmPoolRef.Name)]
	if !ok {
		template = "<unknown>"
	}
	sandbox := claims.SandboxName(c)
	launch := ""
	switch sandbox {
	case "":
	case c.Name:
		launch = "cold"
	default:
		launch = "warm"
	}
	expires := ""
	if lc := c.Spec.Lifecycle; lc != nil && lc.ShutdownTime != nil {
		expires = Relative(lc.ShutdownTime.Time, now)
	}
	obj := c.DeepCopy()
	obj.SetGroupVersionKind(claims.ClaimGVK)
	return metav1.TableRow{
		Cells: []any{c.Name, c.Spec.WarmPoolRef.Name, template, OrNone(ready), OrNone(reason),
			OrNone(sandbox), age(c.CreationTimestamp, now), OrNone(claims.PreferredIP(c.Status.SandboxStatus.PodIPs)),
			OrNone(launch), OrNone(expires)},
		Object: runtime.RawExtension{Object: obj},
	}
}

var templateColumns = []metav1.TableColumnDefinition{
	column("NAME", "string", "Template name", 0),
	column("IMAGE", "string", "Image of the first container", 0),
	column("POOLS", "string", "Warm pools that use the template", 0),
	column("ENV", "string", "envVarsInjectionPolicy: whether claims may set environment variables", 0),
	column("AGE", "date", "Time since creation", 0),
}

// Templates builds the template table; pools are used for the POOLS column.
func Templates(items []extv1beta1.SandboxTemplate, pools []extv1beta1.SandboxWarmPool, now time.Time) *metav1.Table {
	byTemplate := map[string][]string{}
	for _, p := range pools {
		byTemplate[p.Spec.TemplateRef.Name] = append(byTemplate[p.Spec.TemplateRef.Name], p.Name)
	}
	t := &metav1.Table{ColumnDefinitions: templateColumns}
	for i := range items {
		tpl := items[i].DeepCopy()
		tpl.SetGroupVersionKind(claims.TemplateGVK)
		image := ""
		if cs := tpl.Spec.PodTemplate.Spec.Containers; len(cs) > 0 {
			image = cs[0].Image
		}
		env := string(tpl.Spec.EnvVarsInjectionPolicy)
		if env == "" {
			env = "Disallowed"
		}
		t.Rows = append(t.Rows, metav1.TableRow{
			Cells:  []any{tpl.Name, OrNone(image), OrNone(strings.Join(byTemplate[tpl.Name], ",")), env, age(tpl.CreationTimestamp, now)},
			Object: runtime.RawExtension{Object: tpl},
		})
	}
	return t
}

var poolColumns = []metav1.TableColumnDefinition{
	column("NAME", "string", "Pool name", 0),
	column("TEMPLATE", "string", "SandboxTemplate the pool keeps warm", 0),
	column("READY", "string", "Ready/desired warm sandboxes", 0),
	column("AGE", "date", "Time since creation", 0),
}

// Pools builds the warm pool table.
func Pools(items []extv1beta1.SandboxWarmPool, now time.Time) *metav1.Table {
	t := &metav1.Table{ColumnDefinitions: poolColumns}
	for i := range items {
		p := items[i].DeepCopy()
		p.SetGroupVersionKind(claims.PoolGVK)
		desired := int32(1)
		if p.Spec.Replicas != nil {
			desired = *p.Spec.Replicas
		}
		t.Rows = append(t.Rows, metav1.TableRow{
			Cells:  []any{p.Name, p.Spec.TemplateRef.Name, itoa(p.Status.ReadyReplicas) + "/" + itoa(desired), age(p.CreationTimestamp, now)},
			Object: runtime.RawExtension{Object: p},
		})
	}
	return t
}

func age(ts metav1.Time, now time.Time) string {
	if ts.IsZero() {
		return "<unknown>"
	}
	return duration.HumanDuration(now.Sub(ts.Time))
}

// Relative says how far t is from now: "in 5m" or "5m ago".
func Relative(t, now time.Time) string {
	if t.After(now) {
		return "in " + duration.HumanDuration(t.Sub(now))
	}
	return duration.HumanDuration(now.Sub(t)) + " ago"
}

// OrNone prints an empty value as <none>, as kubectl does.
func OrNone(s string) string {
	if s == "" {
		return none
	}
	return s
}

func itoa(i int32) string { return strconv.Itoa(int(i)) }
