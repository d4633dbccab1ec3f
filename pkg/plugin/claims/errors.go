package claims

import (
	"errors"
	"fmt"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// NotFoundError reports a claim that does not exist.
type NotFoundError struct{ Namespace, Name string }

func (e *NotFoundError) Error() string {
	return fmt.Sprintf("sandboxclaim %q not found in namespace %q", e.Name, e.Namespace)
}

// TimeoutError reports a wait that ran out of time, with the last state seen.
type TimeoutError struct {
	Name, For string
	After     time.Duration
	Last      *metav1.Condition
}

func (e *TimeoutError) Error() string {
	msg := fmt.Sprintf("timed out after %s waiting for sandboxclaim %q to %s", e.After, e.Name, e.For)
	if e.Last != nil {
		msg += fmt.Sprintf(" (last Ready=%s, reason %s: %s)", e.Last.Status, e.Last.Reason, e.Last.Message)
	}
	return msg
}

// InterruptedError reports a wait cut short by the caller's context.
type InterruptedError struct{ Name, For string }

func (e *InterruptedError) Error() string {
	return fmt.Sprintf("interrupted while waiting for sandboxclaim %q to %s", e.Name, e.For)
}

// FailedError reports a claim that reached a terminal Ready=False reason.
type FailedError struct {
	Name, Reason, Message string
}

func (e *FailedError) Error() string {
	return fmt.Sprintf("sandboxclaim %q failed: %s: %s", e.Name, e.Reason, e.Message)
}

// DeletedError reports a claim deleted while something waited on it.
type DeletedError struct{ Name, For string }

func (e *DeletedError) Error() string {
	return fmt.Sprintf("sandboxclaim %q was deleted while waiting for it to %s", e.Name, e.For)
}

// CleanupError reports a claim that could not be deleted after a failure or
// at the end of a one-shot run; it still expires at its TTL, if any.
type CleanupError struct {
	Name string
	Err  error
}

func (e *CleanupError) Error() string {
	return fmt.Sprintf("deleting sandboxclaim %q failed: %v", e.Name, e.Err)
}

func (e *CleanupError) Unwrap() error { return e.Err }

// IsObjectNotFound reports a 404 for one named object, as opposed to a 404
// for a whole resource (see IsMissingAPI).
func IsObjectNotFound(err error) bool {
	var status apierrors.APIStatus
	if !errors.As(err, &status) || !apierrors.IsNotFound(err) {
		return false
	}
	d := status.Status().Details
	return d != nil && d.Name != ""
}

// IsMissingAPI reports a 404 for a whole resource: a CRD that is not
// installed, or a version that is not served.
func IsMissingAPI(err error) bool {
	var status apierrors.APIStatus
	return errors.As(err, &status) && apierrors.IsNotFound(err) && !IsObjectNotFound(err)
}
