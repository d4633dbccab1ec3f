package doctor

// Problem is what a check found wrong, with the fix to suggest beside it:
// a problem cannot be named without its fix.
type Problem struct {
	// ID names the problem in JSON output ("missing-apis").
	ID  string
	fix func(ns string) string
}

// Fix says what to do about the problem, in namespace ns.
func (p *Problem) Fix(ns string) string { return p.fix(ns) }

// MarshalText is the problem's ID.
func (p *Problem) MarshalText() ([]byte, error) { return []byte(p.ID), nil }

func problem(id, fix string) *Problem {
	return &Problem{ID: id, fix: func(string) string { return fix }}
}

// fixIn is a problem whose fix names the namespace checked.
func fixIn(id string, fix func(ns string) string) *Problem {
	return &Problem{ID: id, fix: fix}
}

// The problems, by check.
var (
	Unreachable = problem("unreachable", "is the cluster reachable? check --context and --kubeconfig")
	MissingAPIs = problem("missing-apis", "install agent-sandbox v0.5.6 or newer with its extensions (the CRDs of agents.x-k8s.io and extensions.agents.x-k8s.io)")

	NotReconciling  = problem("not-reconciling", "is agent-sandbox-controller running, with --extensions? check its logs")
	ControllerDown  = problem("controller-down", "check its pods and logs: kubectl -n agent-sandbox-system describe deployment agent-sandbox-controller; kubectl -n agent-sandbox-system logs deployment/agent-sandbox-controller")
	NoExtensions    = problem("no-extensions", "add --extensions to its args: kubectl -n agent-sandbox-system edit deployment agent-sandbox-controller (or install sandbox-with-extensions.yaml)")
	ControllerStale = problem("controller-stale", "the controller stopped renewing its lease; check: kubectl -n agent-sandbox-system logs deployment/agent-sandbox-controller (a controller run elsewhere without leader election: kubectl -n agent-sandbox-system delete lease a3317529.agent-sandbox.x-k8s.io)")
	Unknown         = problem("unknown", "run with --probe to try a real claim")

	APIError = fixIn("api-error", func(ns string) string {
		return "check your access with: kubectl auth can-i list sandboxwarmpools,sandboxclaims,sandboxtemplates -n " + ns
	})
	NoPools         = problem("no-pools", "create a SandboxTemplate and a SandboxWarmPool for it (replicas: 0 for cold starts only)")
	NoSuchPool      = problem("no-such-pool", "list the pools with: kubectl sandbox pools")
	MissingTemplate = problem("missing-template", "create the template, or point the pool at one that exists (kubectl sandbox templates)")
	PoolsFilling    = fixIn("pools-filling", func(ns string) string {
		return "pools fill as the controller starts sandboxes; if they stay short, check: kubectl get pods -n " + ns
	})

	UnreachablePortForward = fixIn("unreachable-port-forward", noRouter)
	UnhealthyPortForward   = fixIn("unhealthy-port-forward", noRouter)
	UnreachableGateway     = problem("unreachable-gateway", gatewayFix)
	UnhealthyGateway       = problem("unhealthy-gateway", gatewayFix)
	UnreachableURL         = problem("unreachable-url", "check --router-url")
	UnhealthyURL           = problem("unhealthy-url", "check --router-url")
	RouterRefused          = problem("router-refused", "give the router a token it takes with --router-token-file, or reach it over https or a port-forward so that your kubeconfig's token is sent")

	GatewayNotFound         = problem("gateway-not-found", "check --gateway and --gateway-namespace")
	GatewayUnreadable       = problem("gateway-unreadable", "ask for get on gateways.gateway.networking.k8s.io in the gateway's namespace")
	NoGatewayClass          = problem("no-gatewayclass", "install a Gateway API implementation for it, or set the gateway's gatewayClassName to a class that exists (kubectl get gatewayclass)")
	GatewayClassUnreadable  = problem("gatewayclass-unreadable", "ask for get on gatewayclasses.gateway.networking.k8s.io, or have a cluster admin check the class")
	GatewayClassNotAccepted = problem("gatewayclass-not-accepted", "is its controller running? check its logs, and: kubectl describe gatewayclass")
	GatewayNotProgrammed    = problem("gateway-not-programmed", "check the gateway's events and its controller's logs (kubectl describe gateway)")
	GatewayNoListener       = problem("gateway-no-listener", "add an HTTP or HTTPS listener to the gateway, or pick the other with --gateway-scheme")
	NoHTTPRoute             = problem("no-httproute", "create an HTTPRoute with the gateway in its parentRefs that sends / to Service sandbox-router-svc port 8080 in the route's namespace")
	HTTPRouteUnreadable     = problem("httproute-unreadable", "ask for list on httproutes.gateway.networking.k8s.io to check the route")
	HTTPRouteNotAccepted    = problem("httproute-not-accepted", "let the gateway listener's allowedRoutes admit the route's namespace and kind, or fix its parentRefs (kubectl describe httproute)")
	HTTPRouteUnresolved     = problem("httproute-unresolved", "point its backendRefs at Service sandbox-router-svc port 8080 in the route's namespace, or add a ReferenceGrant for a Service in another")

	Denied = fixIn("denied", func(ns string) string {
		return "ask a cluster admin for these RBAC rights in namespace " + ns
	})
	ReviewFailed = fixIn("review-failed", func(ns string) string {
		return "the API server could not answer access reviews; check with: kubectl auth can-i --list -n " + ns
	})

	NoProbePool   = problem("no-probe-pool", probePoolFix)
	ProbeClaim    = problem("probe-claim", probePoolFix)
	ProbeExec     = problem("probe-exec", "check the router and the runtime: kubectl sandbox doctor without --probe, and kubectl sandbox logs")
	SandboxUnread = fixIn("sandbox-unread", func(ns string) string {
		return "the transports depend on the sandbox's pod template; check with: kubectl auth can-i get sandboxes.agents.x-k8s.io -n " + ns
	})
	NoTransport = fixIn("no-transport", func(ns string) string {
		return "the data plane reaches the python runtime through the router, and sandboxd through a port-forward or pods/exec: " +
			"check the router (doctor without --probe), and the rights with: kubectl auth can-i create pods/portforward -n " + ns + "; kubectl auth can-i create pods/exec -n " + ns
	})
	ProbeDelete = problem("probe-delete", "it expires at its TTL (10m), or delete it with: kubectl sandbox delete -l kubectl-sandbox/doctor")
)

const (
	gatewayFix   = "check --gateway and --gateway-namespace, and that a Gateway controller gives it an address routed to the router"
	probePoolFix = "check the pool with: kubectl sandbox pools, and the claim's events"
)

func noRouter(ns string) string {
	return "deploy the sandbox router (Service sandbox-router-svc with a ready pod) in " + ns + " or agent-sandbox-system, or set --router-namespace"
}
