package tables

import (
	"reflect"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	extv1beta1 "sigs.k8s.io/agent-sandbox/extensions/api/v1beta1"

	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/claims"
)

var now = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

func ago(d time.Duration) metav1.Time { return metav1.NewTime(now.Add(-d)) }

type claimOpt func(*extv1beta1.SandboxClaim)

func newClaim(name, pool string, opts ...claimOpt) *extv1beta1.SandboxClaim {
	c := &extv1beta1.SandboxClaim{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", CreationTimestamp: ago(5 * time.Minute)},
		Spec:       extv1beta1.SandboxClaimSpec{WarmPoolRef: extv1beta1.SandboxWarmPoolRef{Name: pool}},
	}
	for _, o := range opts {
		o(c)
	}
	return c
}

func readyAs(status metav1.ConditionStatus, reason string) claimOpt {
	return func(c *extv1beta1.SandboxClaim) {
		c.Status.Conditions = []metav1.Condition{{Type: "Ready", Status: status, Reason: reason}}
	}
}

func boundTo(sandbox string, ips ...string) claimOpt {
	return func(c *extv1beta1.SandboxClaim) {
		c.Status.SandboxStatus.Name = sandbox
		c.Status.SandboxStatus.PodIPs = ips
	}
}

func expiresIn(d time.Duration) claimOpt {
	return func(c *extv1beta1.SandboxClaim) {
		at := metav1.NewTime(now.Add(d))
		c.Spec.Lifecycle = &extv1beta1.Lifecycle{ShutdownTime: &at, ShutdownPolicy: extv1beta1.ShutdownPolicyDelete}
	}
}

func created(t metav1.Time) claimOpt {
	return func(c *extv1beta1.SandboxClaim) { c.CreationTimestamp = t }
}

func columnNames(cols []metav1.TableColumnDefinition) []string {
	var names []string
	for _, c := range cols {
		names = append(names, c.Name)
	}
	return names
}

func TestClaimRow(t *testing.T) {
	templates := map[string]string{PoolKey("default", "python"): "python-3.12"}
	tests := []struct {
		name  string
		claim *extv1beta1.SandboxClaim
		want  []any
	}{
		{"warm: adopted from the pool, expiring",
			newClaim("c1", "python", readyAs("True", "DependenciesReady"), boundTo("python-abcde", "fd00::7", "10.0.0.7"), expiresIn(time.Hour)),
			[]any{"c1", "python", "python-3.12", "True", "DependenciesReady", "python-abcde", "5m", "10.0.0.7", "warm", "in 60m"}},
		{"cold: a sandbox of its own name, expired",
			newClaim("c2", "python", readyAs("False", "ClaimExpired"), boundTo("c2", "fd00::8"), expiresIn(-2*time.Minute)),
			[]any{"c2", "python", "python-3.12", "False", "ClaimExpired", "c2", "5m", "fd00::8", "cold", "2m ago"}},
		{"none: no sandbox yet, unknown template, never expires",
			newClaim("c3", "ruby", created(metav1.Time{})),
			[]any{"c3", "ruby", "<unknown>", "<none>", "<none>", "<none>", "<unknown>", "<none>", "<none>", "<none>"}},
		{"the pool of another namespace",
			newClaim("c4", "python", func(c *extv1beta1.SandboxClaim) { c.Namespace = "other" }),
			[]any{"c4", "python", "<unknown>", "<none>", "<none>", "<none>", "5m", "<none>", "<none>", "<none>"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := tt.claim.DeepCopy()
			row := ClaimRow(tt.claim, templates, now)
			if !reflect.DeepEqual(row.Cells, tt.want) {
				t.Errorf("cells\n got %q\nwant %q", row.Cells, tt.want)
			}
			obj, ok := row.Object.Object.(*extv1beta1.SandboxClaim)
			if !ok || obj.GroupVersionKind() != claims.ClaimGVK || obj.Name != tt.claim.Name {
				t.Errorf("row object %#v, want the claim with its kind", row.Object.Object)
			}
			if !reflect.DeepEqual(tt.claim, before) {
				t.Error("ClaimRow changed the claim")
			}
		})
	}
}

func TestClaims(t *testing.T) {
	items := []extv1beta1.SandboxClaim{*newClaim("b", "python"), *newClaim("a", "python")}
	table := Claims(items, nil, now)
	if want := []string{"NAME", "POOL", "TEMPLATE", "READY", "REASON", "SANDBOX", "AGE", "POD-IP", "LAUNCH", "EXPIRES"}; !reflect.DeepEqual(columnNames(table.ColumnDefinitions), want) {
		t.Errorf("columns %v, want %v", columnNames(table.ColumnDefinitions), want)
	}
	var wide []string
	for _, c := range table.ColumnDefinitions {
		if c.Priority > 0 {
			wide = append(wide, c.Name)
		}
	}
	if want := []string{"POD-IP", "LAUNCH", "EXPIRES"}; !reflect.DeepEqual(wide, want) {
		t.Errorf("-o wide columns %v, want %v", wide, want)
	}
	if f := table.ColumnDefinitions[0].Format; f != "name" {
		t.Errorf("NAME format %q, want name", f)
	}
	if len(table.Rows) != 2 || table.Rows[0].Cells[0] != "b" || table.Rows[1].Cells[0] != "a" {
		t.Errorf("rows %v, want b then a, as given", table.Rows)
	}
	if empty := Claims(nil, nil, now); len(empty.Rows) != 0 || len(empty.ColumnDefinitions) != 10 {
		t.Errorf("no claims: %+v", empty)
	}
}

func TestTemplates(t *testing.T) {
	python := extv1beta1.SandboxTemplate{ObjectMeta: metav1.ObjectMeta{Name: "python", CreationTimestamp: ago(48 * time.Hour)}}
	python.Spec.PodTemplate.Spec.Containers = []corev1.Container{{Name: "main", Image: "python:3.12"}, {Name: "side", Image: "envoy"}}
	bare := extv1beta1.SandboxTemplate{ObjectMeta: metav1.ObjectMeta{Name: "bare"}}
	bare.Spec.EnvVarsInjectionPolicy = extv1beta1.EnvVarsInjectionPolicyOverrides
	pools := []extv1beta1.SandboxWarmPool{*pool("warm", "python", 1, 1), *pool("other", "go", 1, 1), *pool("cold", "python", 0, 0)}
	items := []extv1beta1.SandboxTemplate{python, bare}
	table := Templates(items, pools, now)
	if want := []string{"NAME", "IMAGE", "POOLS", "ENV", "AGE"}; !reflect.DeepEqual(columnNames(table.ColumnDefinitions), want) {
		t.Errorf("columns %v, want %v", columnNames(table.ColumnDefinitions), want)
	}
	want := [][]any{
		{"python", "python:3.12", "warm,cold", "Disallowed", "2d"},
		{"bare", "<none>", "<none>", "Overrides", "<unknown>"},
	}
	for i, row := range table.Rows {
		if !reflect.DeepEqual(row.Cells, want[i]) {
			t.Errorf("row %d\n got %q\nwant %q", i, row.Cells, want[i])
		}
		if obj := row.Object.Object.(*extv1beta1.SandboxTemplate); obj.GroupVersionKind() != claims.TemplateGVK {
			t.Errorf("row %d object kind %v", i, obj.GroupVersionKind())
		}
	}
	if len(table.Rows) != len(want) {
		t.Errorf("%d rows, want %d", len(table.Rows), len(want))
	}
	if items[0].Kind != "" || items[0].APIVersion != "" {
		t.Error("Templates changed its input")
	}
}

func pool(name, template string, ready, replicas int32) *extv1beta1.SandboxWarmPool {
	return &extv1beta1.SandboxWarmPool{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", CreationTimestamp: ago(90 * time.Second)},
		Spec:       extv1beta1.SandboxWarmPoolSpec{TemplateRef: extv1beta1.SandboxTemplateRef{Name: template}, Replicas: ptr.To(replicas)},
		Status:     extv1beta1.SandboxWarmPoolStatus{ReadyReplicas: ready},
	}
}

func TestPools(t *testing.T) {
	unset := pool("default-size", "go", 0, 0)
	unset.Spec.Replicas = nil // the API defaults it to 1
	unset.CreationTimestamp = metav1.Time{}
	table := Pools([]extv1beta1.SandboxWarmPool{*pool("warm", "python", 2, 3), *pool("cold", "python", 0, 0), *unset}, now)
	if want := []string{"NAME", "TEMPLATE", "READY", "AGE"}; !reflect.DeepEqual(columnNames(table.ColumnDefinitions), want) {
		t.Errorf("columns %v, want %v", columnNames(table.ColumnDefinitions), want)
	}
	want := [][]any{
		{"warm", "python", "2/3", "90s"},
		{"cold", "python", "0/0", "90s"},
		{"default-size", "go", "0/1", "<unknown>"},
	}
	if len(table.Rows) != len(want) {
		t.Fatalf("%d rows, want %d", len(table.Rows), len(want))
	}
	for i, row := range table.Rows {
		if !reflect.DeepEqual(row.Cells, want[i]) {
			t.Errorf("row %d\n got %q\nwant %q", i, row.Cells, want[i])
		}
		if obj := row.Object.Object.(*extv1beta1.SandboxWarmPool); obj.GroupVersionKind() != claims.PoolGVK {
			t.Errorf("row %d object kind %v", i, obj.GroupVersionKind())
		}
	}
}

func TestRelative(t *testing.T) {
	tests := []struct {
		t    time.Time
		want string
	}{
		{now.Add(5 * time.Minute), "in 5m"},
		{now.Add(-5 * time.Minute), "5m ago"},
		{now.Add(36 * time.Hour), "in 36h"},
		{now.Add(-3 * 24 * time.Hour), "3d ago"},
		{now, "0s ago"},
	}
	for _, tt := range tests {
		if got := Relative(tt.t, now); got != tt.want {
			t.Errorf("Relative(now%+v) = %q, want %q", tt.t.Sub(now), got, tt.want)
		}
	}
}

func TestOrNone(t *testing.T) {
	for in, want := range map[string]string{"": "<none>", "x": "x", " ": " "} {
		if got := OrNone(in); got != want {
			t.Errorf("OrNone(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestPoolKey(t *testing.T) {
	if got := PoolKey("ns", "python"); got != "ns/python" {
		t.Errorf("PoolKey = %q", got)
	}
}
