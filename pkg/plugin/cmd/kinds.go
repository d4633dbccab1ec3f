package cmd

import (
	"context"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"

	extclient "sigs.k8s.io/agent-sandbox/clients/k8s/extensions/clientset/versioned"
	extv1beta1 "sigs.k8s.io/agent-sandbox/extensions/api/v1beta1"

	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/claims"
	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/tables"
)

// kind is what the listing verbs (get, templates, pools) need of a resource:
// typed list, get and watch calls, and its table.
type kind struct {
	gvk      schema.GroupVersionKind
	resource string
	newList  func() runtime.Object
	// in is the resource's calls in namespace ns.
	in func(ext extclient.Interface, ns string) calls
	// needsPools says whether table uses the warm pools of the namespace.
	needsPools bool
	// table renders a list of this kind.
	table func(list runtime.Object, pools []extv1beta1.SandboxWarmPool, now time.Time) *metav1.Table
}

// calls are a typed client's list, get and watch, on runtime.Objects.
type calls struct {
	list  func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error)
	get   func(ctx context.Context, name string, o metav1.GetOptions) (runtime.Object, error)
	watch func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error)
}

// typedCalls makes calls of a typed client's List, Get and Watch.
func typedCalls[T, L runtime.Object](list func(context.Context, metav1.ListOptions) (L, error), get func(context.Context, string, metav1.GetOptions) (T, error), watchFn func(context.Context, metav1.ListOptions) (watch.Interface, error)) calls {
	return calls{
		list: func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) { return list(ctx, o) },
		get: func(ctx context.Context, name string, o metav1.GetOptions) (runtime.Object, error) {
			return get(ctx, name, o)
		},
		watch: watchFn,
	}
}

var claimKind = kind{
	newList:  func() runtime.Object { return &extv1beta1.SandboxClaimList{} },
	gvk:      claims.ClaimGVK,
	resource: "sandboxclaims",
	in: func(ext extclient.Interface, ns string) calls {
		c := ext.ExtensionsV1beta1().SandboxClaims(ns)
		return typedCalls(c.List, c.Get, c.Watch)
	},
	needsPools: true,
	table: func(list runtime.Object, pools []extv1beta1.SandboxWarmPool, now time.Time) *metav1.Table {
		templates := map[string]string{}
		for _, p := range pools {
			templates[tables.PoolKey(p.Namespace, p.Name)] = p.Spec.TemplateRef.Name
		}
		return tables.Claims(list.(*extv1beta1.SandboxClaimList).Items, templates, now)
	},
}

var templateKind = kind{
	newList:  func() runtime.Object { return &extv1beta1.SandboxTemplateList{} },
	gvk:      claims.TemplateGVK,
	resource: "sandboxtemplates",
	in: func(ext extclient.Interface, ns string) calls {
		c := ext.ExtensionsV1beta1().SandboxTemplates(ns)
		return typedCalls(c.List, c.Get, c.Watch)
	},
	needsPools: true,
	table: func(list runtime.Object, pools []extv1beta1.SandboxWarmPool, now time.Time) *metav1.Table {
		return tables.Templates(list.(*extv1beta1.SandboxTemplateList).Items, pools, now)
	},
}

var poolKind = kind{
	newList:  func() runtime.Object { return &extv1beta1.SandboxWarmPoolList{} },
	gvk:      claims.PoolGVK,
	resource: "sandboxwarmpools",
	in: func(ext extclient.Interface, ns string) calls {
		c := ext.ExtensionsV1beta1().SandboxWarmPools(ns)
		return typedCalls(c.List, c.Get, c.Watch)
	},
	table: func(list runtime.Object, _ []extv1beta1.SandboxWarmPool, now time.Time) *metav1.Table {
		return tables.Pools(list.(*extv1beta1.SandboxWarmPoolList).Items, now)
	},
}
