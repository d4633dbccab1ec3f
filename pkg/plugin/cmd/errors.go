package cmd

import (
	"errors"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	utilnet "k8s.io/apimachinery/pkg/util/net"

	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/claims"
	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/sandbox"
)

// describeError turns err into the one line a user sees after "error: ",
// with a hint where one helps.
func describeError(err error) string {
	msg := strings.Join(strings.Fields(strings.ReplaceAll(err.Error(), "\n", "; ")), " ")
	var conn *sandbox.ConnError
	var failed *claims.FailedError
	var timeout *claims.TimeoutError
	switch {
	case errors.As(err, &conn):
		return msg // it carries its own hint
	case isMissingAPI(err):
		return msg + ": the server does not serve the agent-sandbox v1beta1 APIs: is agent-sandbox installed? " +
			"(check with: kubectl get crd sandboxclaims.extensions.agents.x-k8s.io)"
	case apierrors.IsForbidden(err):
		return msg + " (ask a cluster admin for RBAC access; check with: kubectl auth can-i --list)"
	case apierrors.IsUnauthorized(err):
		return msg + " (check the credentials of your kubeconfig context)"
	case errors.As(err, &failed):
		switch failed.Reason {
		case "WarmPoolNotFound", "TemplateNotFound":
			return msg + " (list what exists with: kubectl sandbox pools)"
		case "EnvVarsInjectionRejected":
			return msg + " (the template's envVarsInjectionPolicy must be Allowed or Overrides to use --env)"
		}
	case errors.As(err, &timeout):
		return msg + " (raise --timeout, or inspect it with: kubectl sandbox describe " + timeout.Name + ")"
	case utilnet.IsConnectionRefused(err):
		return msg + " (is the cluster reachable? check --context and --kubeconfig)"
	}
	return msg
}

// isMissingAPI reports a 404 for a whole resource (a CRD that is not
// installed) rather than for one named object.
func isMissingAPI(err error) bool {
	var status apierrors.APIStatus
	if !errors.As(err, &status) || !apierrors.IsNotFound(err) {
		return false
	}
	d := status.Status().Details
	return d == nil || d.Name == ""
}
