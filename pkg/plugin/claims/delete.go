package claims

import (
	"context"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	extclient "sigs.k8s.io/agent-sandbox/clients/k8s/extensions/clientset/versioned"
)

// Delete deletes a claim with background propagation: the garbage collector
// then removes its Sandbox, Pod and Service through owner references.
func Delete(ctx context.Context, client extclient.Interface, ns, name string, dryRun []string) error {
	policy := metav1.DeletePropagationBackground
	return client.ExtensionsV1beta1().SandboxClaims(ns).Delete(ctx, name,
		metav1.DeleteOptions{PropagationPolicy: &policy, DryRun: dryRun})
}
