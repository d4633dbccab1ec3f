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
	// table renders a list of this kind; it may read related objects.
	table func(ctx context.Context, ext extclient.Interface, ns string, list runtime.Object, now time.Time) (*metav1.Table, error)
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
	table: func(ctx context.Context, ext extclient.Interface, ns string, list runtime.Object, now time.Time) (*metav1.Table, error) {
		pools, err := ext.ExtensionsV1beta1().SandboxWarmPools(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return nil, err
		}
		templates := map[string]string{}
		for _, p := range pools.Items {
			templates[tables.PoolKey(p.Namespace, p.Name)] = p.Spec.TemplateRef.Name
		}
		return tables.Claims(list.(*extv1beta1.SandboxClaimList).Items, templates, now), nil
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
	table: func(ctx context.Context, ext extclient.Interface, ns string, list runtime.Object, now time.Time) (*metav1.Table, error) {
		pools, err := ext.ExtensionsV1beta1().SandboxWarmPools(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return nil, err
		}
		return tables.Templates(list.(*extv1beta1.SandboxTemplateList).Items, pools.Items, now), nil
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
	table: func(_ context.Context, _ extclient.Interface, _ string, list runtime.Object, now time.Time) (*metav1.Table, error) {
		return tables.Pools(list.(*extv1beta1.SandboxWarmPoolList).Items, now), nil
	},
}
