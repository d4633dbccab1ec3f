package claims

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	extclient "sigs.k8s.io/agent-sandbox/clients/k8s/extensions/clientset/versioned"
	extv1beta1 "sigs.k8s.io/agent-sandbox/extensions/api/v1beta1"
)

// NoPoolError reports a template that no warm pool in the namespace serves.
type NoPoolError struct {
	Namespace, Template string
	Pools               []extv1beta1.SandboxWarmPool
	Templates           []string
}

func (e *NoPoolError) Error() string {
	var pools []string
	for _, p := range e.Pools {
		pools = append(pools, p.Name+" (template "+p.Spec.TemplateRef.Name+")")
	}
	return fmt.Sprintf("no SandboxWarmPool in namespace %q uses SandboxTemplate %q; pools: %s; templates: %s",
		e.Namespace, e.Template, listOrNone(pools), listOrNone(e.Templates))
}

// TemplateExists says whether the template exists (it only lacks a pool).
func (e *NoPoolError) TemplateExists() bool { return slices.Contains(e.Templates, e.Template) }

func listOrNone(items []string) string {
	if len(items) == 0 {
		return "none"
	}
	return strings.Join(items, ", ")
}

// PoolForTemplate picks the warm pool that serves template: the one with the
// most ready replicas, ties broken by name.
func PoolForTemplate(ctx context.Context, client extclient.Interface, ns, template string) (string, error) {
	pools, err := client.ExtensionsV1beta1().SandboxWarmPools(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return "", fmt.Errorf("listing sandboxwarmpools: %w", err)
	}
	var matches []extv1beta1.SandboxWarmPool
	for _, p := range pools.Items {
		if p.Spec.TemplateRef.Name == template {
			matches = append(matches, p)
		}
	}
	if len(matches) == 0 {
		e := &NoPoolError{Namespace: ns, Template: template, Pools: pools.Items}
		templates, err := client.ExtensionsV1beta1().SandboxTemplates(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return "", fmt.Errorf("listing sandboxtemplates: %w", err)
		}
		for _, t := range templates.Items {
			e.Templates = append(e.Templates, t.Name)
		}
		sort.Strings(e.Templates)
		return "", e
	}
	sort.Slice(matches, func(i, j int) bool {
		if matches[i].Status.ReadyReplicas != matches[j].Status.ReadyReplicas {
			return matches[i].Status.ReadyReplicas > matches[j].Status.ReadyReplicas
		}
		return matches[i].Name < matches[j].Name
	})
	return matches[0].Name, nil
}
