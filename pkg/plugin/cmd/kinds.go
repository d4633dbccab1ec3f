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
	list     func(ctx context.Context, ext extclient.Interface, ns string, o metav1.ListOptions) (runtime.Object, error)
	get      func(ctx context.Context, ext extclient.Interface, ns, name string) (runtime.Object, error)
	watch    func(ctx context.Context, ext extclient.Interface, ns string, o metav1.ListOptions) (watch.Interface, error)
	// needsPools says whether table uses the warm pools of the namespace.
	needsPools bool
	// table renders a list of this kind.
	table func(list runtime.Object, pools []extv1beta1.SandboxWarmPool, now time.Time) *metav1.Table
}

var claimKind = kind{
	newList:  func() runtime.Object { return &extv1beta1.SandboxClaimList{} },
	gvk:      claims.ClaimGVK,
	resource: "sandboxclaims",
	list: func(ctx context.Context, ext extclient.Interface, ns string, o metav1.ListOptions) (runtime.Object, error) {
		return ext.ExtensionsV1beta1().SandboxClaims(ns).List(ctx, o)
	},
	get: func(ctx context.Context, ext extclient.Interface, ns, name string) (runtime.Object, error) {
		return ext.ExtensionsV1beta1().SandboxClaims(ns).Get(ctx, name, metav1.GetOptions{})
	},
	watch: func(ctx context.Context, ext extclient.Interface, ns string, o metav1.ListOptions) (watch.Interface, error) {
		return ext.ExtensionsV1beta1().SandboxClaims(ns).Watch(ctx, o)
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
	list: func(ctx context.Context, ext extclient.Interface, ns string, o metav1.ListOptions) (runtime.Object, error) {
		return ext.ExtensionsV1beta1().SandboxTemplates(ns).List(ctx, o)
	},
	get: func(ctx context.Context, ext extclient.Interface, ns, name string) (runtime.Object, error) {
		return ext.ExtensionsV1beta1().SandboxTemplates(ns).Get(ctx, name, metav1.GetOptions{})
	},
	watch: func(ctx context.Context, ext extclient.Interface, ns string, o metav1.ListOptions) (watch.Interface, error) {
		return ext.ExtensionsV1beta1().SandboxTemplates(ns).Watch(ctx, o)
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
	list: func(ctx context.Context, ext extclient.Interface, ns string, o metav1.ListOptions) (runtime.Object, error) {
		return ext.ExtensionsV1beta1().SandboxWarmPools(ns).List(ctx, o)
	},
	get: func(ctx context.Context, ext extclient.Interface, ns, name string) (runtime.Object, error) {
		return ext.ExtensionsV1beta1().SandboxWarmPools(ns).Get(ctx, name, metav1.GetOptions{})
	},
	watch: func(ctx context.Context, ext extclient.Interface, ns string, o metav1.ListOptions) (watch.Interface, error) {
		return ext.ExtensionsV1beta1().SandboxWarmPools(ns).Watch(ctx, o)
	},
	table: func(list runtime.Object, _ []extv1beta1.SandboxWarmPool, now time.Time) *metav1.Table {
		return tables.Pools(list.(*extv1beta1.SandboxWarmPoolList).Items, now)
	},
}
