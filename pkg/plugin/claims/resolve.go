package claims

import (
	"context"
	"fmt"
	"net"
	"sort"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	extclient "sigs.k8s.io/agent-sandbox/clients/k8s/extensions/clientset/versioned"
	extv1beta1 "sigs.k8s.io/agent-sandbox/extensions/api/v1beta1"
)

// NotReadyError reports a claim whose sandbox cannot take requests yet.
type NotReadyError struct {
	Name string
	// Reason is the Ready condition's reason and message, if any.
	Reason string
}

func (e *NotReadyError) Error() string {
	msg := fmt.Sprintf("sandboxclaim %q is not Ready", e.Name)
	if e.Reason != "" {
		msg += " (" + e.Reason + ")"
	}
	return msg
}

// Get reads one claim; a claim that does not exist is a *NotFoundError.
func Get(ctx context.Context, client extclient.Interface, ns, name string) (*extv1beta1.SandboxClaim, error) {
	c, err := client.ExtensionsV1beta1().SandboxClaims(ns).Get(ctx, name, metav1.GetOptions{})
	if IsObjectNotFound(err) {
		return nil, &NotFoundError{Namespace: ns, Name: name}
	}
	if err != nil {
		return nil, fmt.Errorf("getting sandboxclaim %q: %w", name, err)
	}
	return c, nil
}

// GetReady reads a claim with one GET and checks that its sandbox is usable.
func GetReady(ctx context.Context, client extclient.Interface, ns, name string) (*extv1beta1.SandboxClaim, error) {
	c, err := Get(ctx, client, ns, name)
	if err != nil {
		return nil, err
	}
	if !IsReady(c) {
		e := &NotReadyError{Name: name}
		if cond := ReadyCondition(c); cond != nil {
			e.Reason = cond.Reason
			if cond.Message != "" {
				e.Reason += ": " + cond.Message
			}
		}
		return nil, e
	}
	return c, nil
}

// List lists the claims of a namespace that match a label selector, sorted
// by name.
func List(ctx context.Context, client extclient.Interface, ns, selector string) ([]extv1beta1.SandboxClaim, error) {
	list, err := client.ExtensionsV1beta1().SandboxClaims(ns).List(ctx, metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		return nil, fmt.Errorf("listing sandboxclaims: %w", err)
	}
	sort.Slice(list.Items, func(i, j int) bool { return list.Items[i].Name < list.Items[j].Name })
	return list.Items, nil
}

// PreferredIP returns the first IPv4 address (unmapping IPv4-mapped IPv6),
// else the first address.
func PreferredIP(ips []string) string {
	for _, ip := range ips {
		if p := net.ParseIP(ip); p != nil && p.To4() != nil {
			return p.To4().String()
		}
	}
	if len(ips) > 0 {
		return ips[0]
	}
	return ""
}
