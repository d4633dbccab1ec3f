package cmd

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	utilnet "k8s.io/apimachinery/pkg/util/net"

	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/claims"
	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/router"
	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/sandbox"
	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/sandboxd"
)

// describeError turns err, returned by verb, into the one line a user sees
// after "error: ", with a hint where one helps. It is the one place where
// errors gain hints that name flags and commands.
func describeError(err error, verb string) string {
	if line, ok := unknownCommand(err); ok {
		return line
	}
	msg := strings.Join(strings.Fields(strings.ReplaceAll(err.Error(), "\n", "; ")), " ")
	if hint := hintFor(err, verb); hint != "" {
		return msg + hint
	}
	return msg
}

func hintFor(err error, verb string) string {
	var (
		notReady   *claims.NotReadyError
		noPool     *claims.NoPoolError
		failed     *claims.FailedError
		timeout    *claims.TimeoutError
		cleanup    *claims.CleanupError
		conn       *sandbox.ConnError
		noAnswer   *sandbox.NoAnswerError
		httpErr    *sandbox.HTTPError
		cmdTimeout *sandbox.CommandTimeoutError
		gateway    *router.GatewayError
		noRouter   *router.NoRouterError
		token      *router.InsecureTokenError
		forbidden  *sandboxd.ForbiddenError
		unreach    *sandboxd.UnreachableError
		sdNotReady *sandboxd.NotReadyError
		lost       *sandboxd.LostError
		tooLarge   *sandbox.InputTooLargeError
		sdAPI      *sandboxd.APIError
		unrepr     *sandbox.UnrepresentableError
	)
	switch {
	case errors.Is(err, sandbox.ErrNoTar):
		return " (copy it file by file: --method files)"
	case errors.As(err, &unrepr):
		return " (copy the tree as one archive: --method auto or archive)"
	case errors.Is(err, errNoTerminal):
		return ": use a sandbox whose template runs sandboxd (e.g. kubectl sandbox create --pool sandboxd), or drop -t"
	case errors.As(err, &forbidden):
		return fmt.Sprintf(" (sandboxd is reached by a port-forward: ask for RBAC create on pods/portforward in namespace %s; check with: kubectl auth can-i create pods/portforward -n %s)", forbidden.Namespace, forbidden.Namespace)
	case errors.As(err, &unreach):
		return " (does its pod run sandboxd? use --runtime python for the python runtime, or set --sandboxd-rest-port and --sandboxd-grpc-port)"
	case errors.As(err, &sdNotReady):
		return " (is the sandbox Ready? check with: kubectl sandbox describe CLAIM)"
	case errors.As(err, &lost):
		return " (check the connection to the cluster; run again with -v=4 for the port-forward's log)"
	case errors.As(err, &tooLarge):
		return ": use a sandbox whose template runs sandboxd to stream input, or copy the file in with kubectl sandbox cp"
	case errors.As(err, &sdAPI) && sdAPI.Status == http.StatusForbidden:
		return ": the path is outside the sandbox's root directory"
	case errors.As(err, &sdAPI) && sdAPI.Status == http.StatusConflict:
		return ": use -r to remove a directory and what it holds"
	case errors.As(err, &cleanup):
		return fmt.Sprintf(" (it expires at its TTL; delete it with: kubectl sandbox delete %s)", cleanup.Name)
	case errors.As(err, &notReady):
		return fmt.Sprintf(": wait for it with: kubectl sandbox wait %s --for=condition=Ready", notReady.Name)
	case errors.As(err, &noPool):
		if noPool.TemplateExists() {
			return fmt.Sprintf("; create a pool for it (spec.sandboxTemplateRef.name: %s, replicas: 0 for cold starts) or use --pool", noPool.Template)
		}
		return "; check the template name, or use --pool"
	case errors.As(err, &conn), errors.As(err, &noAnswer):
		return " (is the router running and reachable? check --router-url, --gateway or the router's port-forward)"
	case errors.As(err, &httpErr):
		return httpHint(httpErr)
	case errors.As(err, &cmdTimeout):
		flag := "--timeout"
		if verb == "run" {
			flag = "--command-timeout"
		}
		return " (raise " + flag + ")"
	case errors.As(err, &gateway):
		if gateway.NotFound {
			return ": check --gateway and --gateway-namespace"
		}
		return ": is a Gateway controller programming it?"
	case errors.As(err, &noRouter):
		return " (deploy the router, set --router-namespace, or use --gateway or --router-url)"
	case errors.As(err, &token):
		return ": use https, or --router-allow-insecure-token if the network is trusted"
	case claims.IsMissingAPI(err):
		return ": the server does not serve the agent-sandbox v1beta1 APIs: is agent-sandbox installed? " +
			"(check with: kubectl get crd sandboxclaims.extensions.agents.x-k8s.io)"
	case apierrors.IsForbidden(err):
		return " (ask a cluster admin for RBAC access; check with: kubectl auth can-i --list)"
	case apierrors.IsUnauthorized(err):
		return " (check the credentials of your kubeconfig context)"
	case errors.As(err, &failed):
		switch failed.Reason {
		case "WarmPoolNotFound", "TemplateNotFound":
			return " (list what exists with: kubectl sandbox pools)"
		case "EnvVarsInjectionRejected":
			return " (the template's envVarsInjectionPolicy must be Allowed or Overrides to use --env)"
		}
	case errors.As(err, &timeout):
		return " (raise --timeout, or inspect it with: kubectl sandbox describe " + timeout.Name + ")"
	case utilnet.IsConnectionRefused(err):
		return " (is the cluster reachable? check --context and --kubeconfig)"
	}
	return ""
}

// httpHint says what a router or runtime answer most likely means.
func httpHint(e *sandbox.HTTPError) string {
	switch {
	case e.Status == http.StatusBadGateway:
		return fmt.Sprintf(": router could not reach sandbox %s: is it Ready? does its NetworkPolicy admit the router?", e.Sandbox)
	case e.Status == http.StatusGatewayTimeout:
		return ": the sandbox did not answer in time (raise --timeout?)"
	case e.Status == http.StatusUnauthorized || (e.Status == http.StatusForbidden && !e.FromRuntime):
		return ": the router refused the request (set --router-token, --router-token-file or KUBECTL_SANDBOX_ROUTER_TOKEN)"
	case e.Status == http.StatusForbidden:
		return ": the path is outside the sandbox's root directory"
	case e.Status == http.StatusNotFound && e.FromRuntime:
		return ": no such file or directory in the sandbox"
	case e.Status == http.StatusBadRequest:
		return ": the router rejected the request"
	case e.Status >= 300 && e.Status < 400:
		return ": is --router-url right?"
	}
	return ""
}

// unknownCommand rewrites cobra's multi-line "unknown command" error, with
// its "Did you mean this?" list, as one line.
func unknownCommand(err error) (string, bool) {
	first, rest, _ := strings.Cut(err.Error(), "\n")
	if !strings.HasPrefix(first, "unknown command ") {
		return "", false
	}
	var suggestions []string
	if _, list, ok := strings.Cut(rest, "Did you mean this?"); ok {
		for _, s := range strings.Fields(list) {
			suggestions = append(suggestions, fmt.Sprintf("%q", s))
		}
	}
	if len(suggestions) > 0 {
		first += " (did you mean " + strings.Join(suggestions, " or ") + "?)"
	}
	return first + "; see 'kubectl sandbox --help'", true
}
