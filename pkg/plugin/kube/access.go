package kube

import (
	"context"
	"fmt"

	authzv1 "k8s.io/api/authorization/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/klog/v2"
)

// Pod subresources that reach into a pod.
const (
	PortForward = "portforward"
	Exec        = "exec"
)

// ForbiddenError is a pod subresource (PortForward, Exec) that RBAC refuses
// the caller.
type ForbiddenError struct {
	Namespace, Pod string
	// Subresource is PortForward or Exec.
	Subresource string
	Err         error
}

func (e *ForbiddenError) Error() string {
	what := "port-forward to"
	if e.Subresource == Exec {
		what = "exec into"
	}
	return fmt.Sprintf("%s pod %s/%s is forbidden: you may not create pods/%s in namespace %q", what, e.Namespace, e.Pod, e.Subresource, e.Namespace)
}

func (e *ForbiddenError) Unwrap() error { return e.Err }

// Refused turns err, the failure to open subresource of pod ns/pod, into a
// *ForbiddenError when an access review says the caller may not create it
// (client-go words a refused upgrade many ways); otherwise, or when ctx has
// ended or no review can be asked, it returns err.
// A review that ctx cuts short is no error of the user's: client-go's
// complaint about it is information (QuietErrors), not a line beside the
// caller's one-line error. (gRPC dials both connections of a relayed
// sandboxd at once; when both are refused, the first failure closes the
// connection and cancels the other's review mid-answer.)
func Refused(ctx context.Context, c *Clients, ns, pod, subresource string, err error) error {
	if ctx.Err() != nil || c.Authz == nil {
		return err
	}
	ctx = klog.NewContext(ctx, QuietErrors(klog.FromContext(ctx)))
	review, rerr := c.Authz.SelfSubjectAccessReviews().Create(ctx, &authzv1.SelfSubjectAccessReview{
		Spec: authzv1.SelfSubjectAccessReviewSpec{ResourceAttributes: &authzv1.ResourceAttributes{
			Namespace: ns, Verb: "create", Resource: "pods", Subresource: subresource, Name: pod,
		}},
	}, metav1.CreateOptions{})
	if rerr != nil {
		klog.V(4).InfoS("access review failed", "err", rerr)
		return err
	}
	if review.Status.Allowed {
		return err
	}
	return &ForbiddenError{Namespace: ns, Pod: pod, Subresource: subresource, Err: err}
}
