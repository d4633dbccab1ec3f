package cmd

import (
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	utilnet "k8s.io/apimachinery/pkg/util/net"

	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/claims"
	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/jobs"
	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/kube"
	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/podconn"
	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/podexec"
	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/python"
	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/router"
	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/sandbox"
	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/sandboxd"
	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/session"
)

// describeError turns err, returned by verb, into the one line a user sees
// after "error: ", with a hint where one helps. It is the one place where
// errors gain hints that name flags and commands.
func describeError(err error, verb string) string {
	return describeFor(err, verb, cliUser)
}

// describeToolError is describeError for the MCP server's tools (verb is
// the verb a tool stands for): where a hint names a setting, it names the
// tool's field that an agent sets, or the server's own flag.
func describeToolError(err error, verb string) string {
	return describeFor(err, verb, toolUser)
}

// frontEnd is who reads a hint: the CLI's user, who sets its flags, or an
// agent calling the MCP server's tools, who sets their fields (the
// server's own flags are set by whoever started it).
type frontEnd int

const (
	cliUser frontEnd = iota
	toolUser
)

// say is the CLI's wording of a hint, or the tools'.
func (fe frontEnd) say(cli, tools string) string {
	if fe == toolUser {
		return tools
	}
	return cli
}

func describeFor(err error, verb string, fe frontEnd) string {
	if line, ok := unknownCommand(err); ok {
		return line
	}
	msg := strings.Join(strings.Fields(strings.ReplaceAll(err.Error(), "\n", "; ")), " ")
	if hint := hintFor(err, verb, fe); hint != "" {
		return msg + hint
	}
	return msg
}

func hintFor(err error, verb string, fe frontEnd) string {
	var (
		notReady   *claims.NotReadyError
		noPool     *claims.NoPoolError
		failed     *claims.FailedError
		timeout    *claims.TimeoutError
		cleanup    *claims.CleanupError
		conn       *python.ConnError
		noAnswer   *python.NoAnswerError
		httpErr    *sandbox.HTTPError
		cmdTimeout *sandbox.CommandTimeoutError
		gateway    *router.GatewayError
		noRouter   *router.NoRouterError
		token      *router.InsecureTokenError
		refused    *router.RefusedError
		scope      *router.ScopeError
		unknownCA  x509.UnknownAuthorityError
		wrongHost  x509.HostnameError
		forbidden  *kube.ForbiddenError
		noRelay    *podexec.NoRelayError
		noWay      *podconn.FailedError
		unreach    *sandboxd.UnreachableError
		sdNotReady *sandboxd.NotReadyError
		lost       *sandboxd.LostError
		tooLarge   *sandbox.InputTooLargeError
		unrepr     *sandbox.UnrepresentableError
		noStart    *claims.PodCannotStartError
		oom        *claims.OOMKilledError
		changed    *session.ChangedError
		noJob      *jobs.NotFoundError
		jobExists  *jobs.ExistsError
		jobRuns    *jobs.RunningError
		stillRuns  *StillRunningError
	)
	switch {
	case errors.As(err, &noJob):
		return fe.say(" (list them with: kubectl sandbox jobs CLAIM)", " (list them with sandbox_job_list)")
	case errors.As(err, &jobExists):
		return fe.say(": give --job another name, or none for a generated one", ": give job another name, or none for a generated one")
	case errors.As(err, &jobRuns):
		return fe.say(" (stop it with: kubectl sandbox kill CLAIM "+jobRuns.ID+")", " (stop it with sandbox_job_kill)")
	case errors.As(err, &stillRuns):
		return ": kill it outright with: kubectl sandbox kill " + stillRuns.Claim + " " + stillRuns.Job + " -s KILL (or wait longer: --timeout)"
	case errors.As(err, &changed):
		return fe.say(" (see what it is now with: kubectl sandbox describe "+changed.Claim+")", " (see what it is now with sandbox_list)")
	case errors.Is(err, sandbox.ErrNoTar):
		return " (copy it file by file: --method files)"
	case errors.As(err, &unrepr):
		return " (copy the tree as one archive: --method auto or archive)"
	case errors.Is(err, errNoVirtualTerminal):
		return ": use Windows Terminal or another console of Windows 10 or later, or drop -t"
	case errors.Is(err, errNoTerminal):
		return ": use a sandbox whose template runs sandboxd (e.g. kubectl sandbox create --pool sandboxd), or drop -t"
	case errors.As(err, &noWay) && bothForbidden(noWay):
		return fmt.Sprintf(" (ask for RBAC create on pods/portforward, or on pods/exec, in namespace %s; check with: kubectl auth can-i create pods/portforward -n %s)", noWay.Namespace, noWay.Namespace)
	case errors.As(err, &forbidden):
		return forbiddenHint(forbidden, verb, fe)
	case errors.As(err, &noRelay):
		return fe.say(" (the relay needs sh, with bash and cat or with python3, in the container; where port-forwards reach the pod, use --transport port-forward)",
			" (the relay needs sh, with bash and cat or with python3, in the container; where port-forwards reach the pod, start the server with --transport port-forward)")
	case errors.As(err, &unreach):
		isolated := ""
		if unreach.Transport == podconn.PortForward {
			isolated = fe.say("a port-forward does not reach pods under gVisor or Kata: use --transport auto or exec; ",
				"a port-forward does not reach pods under gVisor or Kata: start the server with --transport auto or exec; ")
		}
		return fe.say(" ("+isolated+"does its pod run sandboxd? use --runtime python for the python runtime, or set --sandboxd-rest-port and --sandboxd-grpc-port)",
			" ("+isolated+"does its pod run sandboxd? start the server with --runtime python for the python runtime, or with --sandboxd-rest-port and --sandboxd-grpc-port)")
	case errors.As(err, &sdNotReady):
		return fe.say(" (is the sandbox Ready? check with: kubectl sandbox describe CLAIM)", " (is the sandbox Ready? check with sandbox_list)")
	case errors.As(err, &lost):
		return fe.say(" (check the connection to the cluster; run again with -v=4 for the port-forward's log)",
			" (check the server's connection to the cluster; start it with -v=4 for the port-forward's log)")
	case errors.As(err, &tooLarge):
		return fe.say(": use a sandbox whose template runs sandboxd to stream input, or copy the file in with kubectl sandbox cp",
			": use a sandbox whose template runs sandboxd, or write the input to a file with sandbox_write_file")
	case errors.As(err, &cleanup):
		return fe.say(" (it expires at its TTL; delete it with: kubectl sandbox delete "+cleanup.Name+")",
			" (it expires at its TTL; delete it with sandbox_delete, name "+strconv.Quote(cleanup.Name)+")")
	case errors.As(err, &oom):
		return fe.say(" (see the kill with: kubectl sandbox describe CLAIM; raise the memory limit of the pool's template, or make the command use less memory)",
			" (raise the memory limit of the pool's template, or make the command use less memory)")
	case errors.As(err, &noStart):
		if noStart.ImageProblem() {
			return " (fix the image of the pool's template, or make its registry reachable from the cluster's nodes)"
		}
		return " (fix the container's configuration in the pool's template)"
	case errors.As(err, &notReady) && strings.HasPrefix(notReady.Reason, claims.ReasonSandboxSuspended):
		return fe.say(": it is suspended; resume it with: kubectl sandbox resume "+notReady.Name,
			": it is suspended (no tool resumes it; a user can, with: kubectl sandbox resume "+notReady.Name+")")
	case errors.As(err, &notReady):
		return fe.say(": wait for it with: kubectl sandbox wait "+notReady.Name+" --for=condition=Ready",
			": it may still be starting; check with sandbox_list")
	case errors.As(err, &noPool):
		if noPool.TemplateExists() {
			return fmt.Sprintf("; create a pool for it (spec.sandboxTemplateRef.name: %s, replicas: 0 for cold starts) or %s", noPool.Template, fe.say("use --pool", "give pool"))
		}
		return "; check the template name, or " + fe.say("use --pool", "give pool")
	case errors.As(err, &refused):
		return refusedHint(refused, fe)
	case errors.As(err, &scope):
		if scope.Expired {
			return ": mint a new one"
		}
		return fmt.Sprintf(": in scoped-token mode the router admits a token only for its own sandbox: mint one for %s/%s", scope.Namespace, scope.Name)
	case errors.As(err, &unknownCA):
		return " (the router's certificate is signed by a CA you do not trust: " + fe.say("", "start the server with ") + "--router-ca-file naming the router's CA)"
	case errors.As(err, &wrongHost):
		return " (the router's certificate is for another name: check " + fe.say("", "the server's ") + "--router-url, or the Gateway listener's hostname)"
	case errors.As(err, &conn), errors.As(err, &noAnswer):
		return " (is the router running and reachable? check " + fe.say("", "the server's ") + "--router-url, --gateway or the router's port-forward)"
	case errors.As(err, &httpErr):
		return httpHint(httpErr, fe)
	case errors.As(err, &cmdTimeout):
		flag := "--timeout"
		if verb == "run" {
			flag = "--command-timeout"
		}
		return " (raise " + fe.say(flag, "timeoutSeconds") + ")"
	case errors.As(err, &gateway):
		switch {
		case gateway.NotFound:
			return ": check " + fe.say("", "the server's ") + "--gateway and --gateway-namespace"
		case gateway.NoListener:
			return ": add the listener to the Gateway, or " + fe.say("pick the other with", "start the server with another") + " --gateway-scheme"
		}
		return fmt.Sprintf(": is a Gateway controller running for its GatewayClass? check with: kubectl describe gateway -n %s %s", gateway.Namespace, gateway.Name)
	case errors.As(err, &noRouter):
		return fe.say(" (deploy the router, set --router-namespace, or use --gateway or --router-url)",
			" (deploy the router, or start the server with --router-namespace, --gateway or --router-url)")
	case errors.As(err, &token):
		return ": use https, or " + fe.say("", "start the server with ") + "--router-allow-insecure-token if the network is trusted"
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
		return fe.say(" (raise --timeout, or inspect it with: kubectl sandbox describe "+timeout.Name+")",
			" (the server gives a sandbox its --ready-timeout to become Ready: start it with a longer one, or use a warm pool with ready sandboxes)")
	case utilnet.IsConnectionRefused(err):
		return " (is the cluster reachable? check " + fe.say("", "the server's ") + "--context and --kubeconfig)"
	}
	return ""
}

// isolatedForwardHint says what reaches a port of claim's pod where a
// port-forward cannot (gVisor, Kata).
func isolatedForwardHint(claim string) string {
	return "use --transport exec, or kubectl sandbox proxy " + claim + " PORT"
}

// bothForbidden says whether RBAC refused both transports.
func bothForbidden(e *podconn.FailedError) bool {
	_, pf := errors.AsType[*kube.ForbiddenError](e.PortForward)
	_, ex := errors.AsType[*kube.ForbiddenError](e.Exec)
	return pf && ex
}

// forbiddenHint names the right a refused port-forward or exec needs, and
// the transport that needs the other one.
func forbiddenHint(e *kube.ForbiddenError, verb string, fe frontEnd) string {
	ns := e.Namespace
	check := fmt.Sprintf("check with: kubectl auth can-i create pods/%s -n %s", e.Subresource, ns)
	if e.Subresource == kube.Exec {
		proxy := ""
		if verb == "port-forward" {
			proxy = "; or reach an HTTP port through the router: kubectl sandbox proxy CLAIM PORT"
		}
		return fmt.Sprintf(" (the connection is relayed over pods/exec, as for pods under gVisor or Kata, which port-forwards do not reach: ask for RBAC create on pods/exec in namespace %s; %s%s)", ns, check, proxy)
	}
	what := "sandboxd is reached by a port-forward: "
	if verb == "port-forward" {
		what = ""
	}
	return fmt.Sprintf(" (%sask for RBAC create on pods/portforward in namespace %s, or %s with create on pods/exec; %s)",
		what, ns, fe.say("use --transport exec", "start the server with --transport exec"), check)
}

// httpHint says what an answer of a runtime, or of the router in front of
// the python runtime, most likely means.
func httpHint(e *sandbox.HTTPError, fe frontEnd) string {
	if e.FromRuntime {
		switch e.Status {
		case http.StatusForbidden:
			return ": the path is outside the sandbox's root directory"
		case http.StatusNotFound:
			return ": no such file or directory in the sandbox"
		case http.StatusConflict:
			return ": use -r to remove a directory and what it holds"
		}
		return ""
	}
	switch {
	case e.Status == http.StatusBadGateway:
		return fmt.Sprintf(": router could not reach sandbox %s: is it Ready? does its NetworkPolicy admit the router?", e.Sandbox)
	case e.Status == http.StatusGatewayTimeout:
		return ": the sandbox did not answer in time (raise " + fe.say("--timeout", "timeoutSeconds") + "?)"
	case e.Status == http.StatusUnauthorized || e.Status == http.StatusForbidden:
		return ": the router refused the request (" + fe.say("set", "start the server with") + " --router-token, --router-token-file or KUBECTL_SANDBOX_ROUTER_TOKEN)"
	case e.Status == http.StatusBadRequest:
		return ": the router rejected the request"
	case e.Status >= 300 && e.Status < 400:
		return ": is " + fe.say("", "the server's ") + "--router-url right?"
	}
	return ""
}

// refusedHint names the router's mode, as far as the answer tells it, and
// what to do about a refusal.
func refusedHint(e *router.RefusedError, fe frontEnd) string {
	give := fe.say("give it one with --router-token-file", "start the server with --router-token-file")
	c := e.Credential
	switch {
	case e.Unauthenticated() && !e.Sent && c.WithheldFrom != "":
		return ": the router asks for tokens (tokenreview mode requiring them, or scoped-token mode); " +
			fe.say("reach it over https (--router-url https://..., or --gateway-scheme https, with --router-ca-file), or allow plain http with --router-allow-insecure-token if the network is trusted",
				"start the server with an https router (--router-url https://..., or --gateway-scheme https, with --router-ca-file), or with --router-allow-insecure-token if the network is trusted")
	case e.Unauthenticated() && !e.Sent:
		return ": the router asks for tokens (tokenreview mode requiring them, or scoped-token mode); " + give +
			": a ServiceAccount's for tokenreview mode (kubectl create token NAME > FILE), one minted for the sandbox for scoped-token mode"
	case e.Unauthenticated() && c.Presents == router.PresentScoped:
		return ": a router in scoped-token mode could not verify it (minted with another secret, or mangled?): mint a new one; a router in tokenreview mode takes Kubernetes tokens: " +
			fe.say("drop --router-token, --router-token-file and $"+envRouterToken+" to send your kubeconfig's", "start the server without a router token to send its kubeconfig's")
	case e.Unauthenticated() && c.Presents == router.PresentToken:
		return ": a router in tokenreview mode found it invalid, expired, revoked or for another audience; a router in scoped-token mode takes only a token minted for the sandbox; check " +
			fe.say("", "the server's ") + "--router-token, --router-token-file and $" + envRouterToken
	case e.Unauthenticated():
		return ": a router in tokenreview mode found it invalid, expired, revoked or for another audience (check it with: kubectl auth whoami); a router in scoped-token mode takes only a token minted for the sandbox: " + give
	case e.ForItsSandbox():
		return ": a router in scoped-token mode refuses requests that carry X-Sandbox-Pod-IP or X-Sandbox-UID (the plugin sends neither with a scoped token): does a proxy in front of the router add them?"
	case c.Presents == router.PresentScoped && c.Scope != nil:
		return ": the router is in scoped-token mode: mint a token for sandbox " + e.Namespace + "/" + e.Err.Sandbox
	}
	return ": a router in scoped-token mode (or a policy in front of the router) refuses it: " + give + ", minted for the sandbox"
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
