package claims

import (
	"context"

	"k8s.io/klog/v2"

	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/kube"
)

// quietErrors returns ctx with a logger that writes errors at V(2), as
// information: a watch that retries through an API server restart logs each
// failed attempt as an error (see kube.QuietErrors).
func quietErrors(ctx context.Context) context.Context {
	return klog.NewContext(ctx, kube.QuietErrors(klog.FromContext(ctx)))
}
