// Package doctor checks, in order, what kubectl sandbox needs from a
// cluster: the API server, the agent-sandbox APIs, a controller that
// reconciles them, templates and pools, the sandbox router, the caller's
// access, and optionally a whole sandbox round trip.
package doctor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"sort"
	"strings"
	"time"

	authzv1 "k8s.io/api/authorization/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/discovery"

	extv1beta1 "sigs.k8s.io/agent-sandbox/extensions/api/v1beta1"

	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/claims"
	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/kube"
	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/router"
	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/sandbox"
	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/session"
)

// Status is a check's verdict.
type Status string

// Verdicts.
const (
	OK   Status = "ok"
	Warn Status = "warn"
	Fail Status = "fail"
	Skip Status = "skip"
)

// Checks, in the order they run.
const (
	CheckAPI        = "api"
	CheckAPIs       = "agent-sandbox-apis"
	CheckController = "controller"
	CheckPools      = "templates-and-pools"
	CheckRouter     = "router"
	// The checks of --gateway.
	CheckGatewayClass   = "gatewayclass"
	CheckGateway        = "gateway"
	CheckHTTPRoute      = "httproute"
	CheckGatewayRequest = "gateway-request"
	CheckRouterURL      = "router-url"
	CheckAccess         = "access"
	CheckProbe          = "probe"
	// CheckTransports follows the probe: the ways to its sandbox.
	CheckTransports = "transports"
)

// Result is one check's outcome. Problem is what is wrong, with its fix
// (nil when nothing is).
type Result struct {
	Check   string        `json:"check"`
	Status  Status        `json:"status"`
	Detail  string        `json:"detail"`
	Problem *Problem      `json:"problem,omitempty"`
	Took    time.Duration `json:"-"`
	// Err is the error behind a failure, when a front-end may explain it
	// better than Problem's fix (a router's refusal).
	Err error `json:"-"`
}

// Options say what to check.
type Options struct {
	Namespace string
	// Session says how to reach the router; a Gateway or a URL in it is
	// checked besides the router Service.
	Session session.Options
	// Pool is the pool to check (and probe) in particular.
	Pool string
	// Probe creates a claim, runs `true` in it and deletes it.
	Probe        bool
	ProbeTimeout time.Duration
	// Now is the clock (for the age of pools).
	Now func() time.Time
}

// Run runs the checks in order and hands each result to report as it is
// known. Later checks that need what an earlier one found missing are
// skipped.
func Run(ctx context.Context, clients *kube.Clients, disco discovery.DiscoveryInterface, o Options, report func(Result)) []Result {
	var results []Result
	add := func(check string, fn func() Result) Result {
		start := time.Now()
		r := fn()
		r.Check, r.Took = check, time.Since(start)
		results = append(results, r)
		if report != nil {
			report(r)
		}
		return r
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	api := add(CheckAPI, func() Result { return checkAPI(disco, clients) })
	if api.Status == Fail {
		return results
	}
	apis := add(CheckAPIs, func() Result { return checkAPIs(disco) })
	skipped := func() Result { return Result{Status: Skip, Detail: "needs the agent-sandbox APIs"} }
	if apis.Status == Fail {
		add(CheckController, skipped)
		add(CheckPools, skipped)
	} else {
		add(CheckController, func() Result { return checkController(ctx, clients, o) })
		add(CheckPools, func() Result { return checkPools(ctx, clients, o) })
	}
	ro := o.Session.Router
	ro.URL, ro.Gateway = nil, ""
	add(CheckRouter, func() Result {
		return checkRouter(ctx, clients, o.Namespace, ro, UnreachablePortForward, UnhealthyPortForward)
	})
	if o.Session.Router.Gateway != "" {
		gro := o.Session.Router
		gro.URL = nil
		gro.GatewayTimeout = min(gro.GatewayTimeout, 10*time.Second)
		if gro.GatewayNamespace == "" {
			gro.GatewayNamespace = o.Namespace
		}
		gc := &gatewayChecks{clients: clients, ns: o.Namespace, ro: gro}
		add(CheckGatewayClass, func() Result { return gc.class(ctx) })
		add(CheckGateway, gc.programmed)
		add(CheckHTTPRoute, func() Result { return gc.route(ctx) })
		add(CheckGatewayRequest, func() Result { return gc.request(ctx) })
	}
	if o.Session.Router.URL != nil {
		uro := o.Session.Router
		uro.Gateway = ""
		add(CheckRouterURL, func() Result {
			return checkRouter(ctx, clients, o.Namespace, uro, UnreachableURL, UnhealthyURL)
		})
	}
	add(CheckAccess, func() Result { return checkAccess(ctx, clients, o.Namespace) })
	switch {
	case o.Probe && apis.Status == Fail:
		add(CheckProbe, skipped)
	case o.Probe:
		var ways *Result
		add(CheckProbe, func() Result {
			r, t := probe(ctx, clients, o)
			ways = t
			return r
		})
		if ways != nil {
			add(CheckTransports, func() Result { return *ways })
		}
	}
	return results
}

// Failed says whether any check failed.
func Failed(results []Result) bool {
	return slices.ContainsFunc(results, func(r Result) bool { return r.Status == Fail })
}

func checkAPI(disco discovery.DiscoveryInterface, clients *kube.Clients) Result {
	v, err := disco.ServerVersion()
	if err != nil {
		return Result{Status: Fail, Detail: err.Error(), Problem: Unreachable}
	}
	host := ""
	if clients.Config != nil {
		host = clients.Config.Host + ", "
	}
	return Result{Status: OK, Detail: host + "Kubernetes " + v.GitVersion}
}

// needed are the agent-sandbox resources the plugin uses, by group/version.
var needed = map[string][]string{
	"agents.x-k8s.io/v1beta1":            {"sandboxes"},
	"extensions.agents.x-k8s.io/v1beta1": {"sandboxclaims", "sandboxtemplates", "sandboxwarmpools"},
}

func checkAPIs(disco discovery.DiscoveryInterface) Result {
	var missing, found []string
	for _, gv := range slices.Sorted(maps.Keys(needed)) {
		list, err := disco.ServerResourcesForGroupVersion(gv)
		have := map[string]bool{}
		if err == nil {
			for _, r := range list.APIResources {
				have[r.Name] = true
			}
		}
		for _, r := range needed[gv] {
			if have[r] {
				found = append(found, r+"."+gv)
			} else {
				missing = append(missing, r+"."+gv)
			}
		}
	}
	if len(missing) > 0 {
		return Result{Status: Fail, Detail: "not served: " + strings.Join(missing, ", "), Problem: MissingAPIs}
	}
	return Result{Status: OK, Detail: "served: " + strings.Join(found, ", ")}
}

// checkController reads the controller's Deployment (available, with
// --extensions) and its leader-election lease (renewed lately). Without a
// Deployment to read (a controller run outside the cluster, or no right to
// read it), it judges by what a controller leaves behind.
func checkController(ctx context.Context, clients *kube.Clients, o Options) Result {
	dep, why := getControllerDeployment(ctx, clients)
	if dep == nil {
		if lease := readLease(ctx, clients, controllerNamespace, o.Now()); lease.stale {
			return Result{Status: Fail, Detail: lease.note, Problem: ControllerStale}
		}
		r := judgeByLeftovers(ctx, clients, o)
		if why != "" {
			r.Detail += "; " + why
		}
		return r
	}
	flags := readFlags(dep.Spec.Template.Spec)
	detail := fmt.Sprintf("deployment %s/%s: %d/%d available", dep.Namespace, dep.Name, dep.Status.AvailableReplicas, derefOr(dep.Spec.Replicas, 1))
	switch {
	case dep.Status.AvailableReplicas == 0:
		return Result{Status: Fail, Detail: detail, Problem: ControllerDown}
	case !flags.extensions:
		return Result{Status: Fail, Detail: detail + ", without --extensions: no claim, template or pool is reconciled", Problem: NoExtensions}
	}
	detail += ", --extensions"
	if !flags.leaderElect {
		return Result{Status: OK, Detail: detail}
	}
	lease := readLease(ctx, clients, flags.leaseNamespace, o.Now())
	if lease.stale {
		return Result{Status: Fail, Detail: detail + ", but " + lease.note, Problem: ControllerStale}
	}
	if lease.note != "" {
		detail += "; " + lease.note
	}
	return Result{Status: OK, Detail: detail}
}

// judgeByLeftovers judges the controller by what it leaves behind: filled
// warm pools, claims with a Ready condition.
func judgeByLeftovers(ctx context.Context, clients *kube.Clients, o Options) Result {
	pools, err := clients.Ext.ExtensionsV1beta1().SandboxWarmPools(o.Namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return Result{Status: Fail, Detail: "listing sandboxwarmpools: " + err.Error(), Problem: APIError}
	}
	stale := 0
	for _, p := range pools.Items {
		if p.Status.ReadyReplicas > 0 || p.Status.ObservedGeneration > 0 {
			return Result{Status: OK, Detail: fmt.Sprintf("it reconciles warm pools (pool %s: %d/%d ready)", p.Name, p.Status.ReadyReplicas, derefOr(p.Spec.Replicas, 0))}
		}
		if derefOr(p.Spec.Replicas, 0) > 0 && o.Now().Sub(p.CreationTimestamp.Time) > time.Minute {
			stale++
		}
	}
	list, err := clients.Ext.ExtensionsV1beta1().SandboxClaims(o.Namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return Result{Status: Fail, Detail: "listing sandboxclaims: " + err.Error(), Problem: APIError}
	}
	for _, c := range list.Items {
		if meta.FindStatusCondition(c.Status.Conditions, claims.ConditionReady) != nil {
			return Result{Status: OK, Detail: fmt.Sprintf("it reconciles claims (sandboxclaim %s has a Ready condition)", c.Name)}
		}
	}
	if stale > 0 {
		return Result{Status: Fail, Detail: fmt.Sprintf("%d warm pool(s) older than a minute have no status", stale), Problem: NotReconciling}
	}
	return Result{Status: Warn, Detail: "no pool or claim in namespace " + o.Namespace + " to judge by", Problem: Unknown}
}

func derefOr(p *int32, d int32) int32 {
	if p == nil {
		return d
	}
	return *p
}

func checkPools(ctx context.Context, clients *kube.Clients, o Options) Result {
	ext := clients.Ext.ExtensionsV1beta1()
	templates, err := ext.SandboxTemplates(o.Namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return Result{Status: Fail, Detail: "listing sandboxtemplates: " + err.Error(), Problem: APIError}
	}
	pools, err := ext.SandboxWarmPools(o.Namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return Result{Status: Fail, Detail: "listing sandboxwarmpools: " + err.Error(), Problem: APIError}
	}
	haveTemplate := map[string]bool{}
	for _, t := range templates.Items {
		haveTemplate[t.Name] = true
	}
	var parts, broken, short []string
	foundPool := o.Pool == ""
	sort.Slice(pools.Items, func(i, j int) bool { return pools.Items[i].Name < pools.Items[j].Name })
	for _, p := range pools.Items {
		want := derefOr(p.Spec.Replicas, 0)
		parts = append(parts, fmt.Sprintf("%s %d/%d", p.Name, p.Status.ReadyReplicas, want))
		if !haveTemplate[p.Spec.TemplateRef.Name] {
			broken = append(broken, fmt.Sprintf("pool %s names missing template %s", p.Name, p.Spec.TemplateRef.Name))
		}
		if p.Status.ReadyReplicas < want {
			short = append(short, p.Name)
		}
		if p.Name == o.Pool {
			foundPool = true
		}
	}
	detail := fmt.Sprintf("%d template(s); pools ready/desired: %s", len(templates.Items), strings.Join(parts, ", "))
	switch {
	case len(pools.Items) == 0:
		return Result{Status: Fail, Detail: fmt.Sprintf("%d template(s), no sandboxwarmpool in namespace %s", len(templates.Items), o.Namespace), Problem: NoPools}
	case !foundPool:
		return Result{Status: Fail, Detail: fmt.Sprintf("no sandboxwarmpool %q; %s", o.Pool, detail), Problem: NoSuchPool}
	case len(broken) > 0:
		return Result{Status: Fail, Detail: strings.Join(broken, "; ") + "; " + detail, Problem: MissingTemplate}
	case len(short) > 0:
		return Result{Status: Warn, Detail: detail + " (not full: " + strings.Join(short, ", ") + ")", Problem: PoolsFilling}
	}
	return Result{Status: OK, Detail: detail}
}

// checkRouter reaches the router one way, asks its /healthz, then has it
// route a request (see probeCredential); the way has its problems when it
// cannot reach the router, and when the router does not answer as
// healthy.
func checkRouter(ctx context.Context, clients *kube.Clients, ns string, ro router.Options, unreachable, unhealthy *Problem) Result {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	conn, err := router.Open(ctx, clients, ro, ns)
	if err != nil {
		return Result{Status: Fail, Detail: err.Error(), Problem: unreachable, Err: err}
	}
	defer conn.Close()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(conn.BaseURL.String(), "/")+"/healthz", nil)
	resp, err := (&http.Client{Transport: conn.Transport}).Do(req)
	if err != nil {
		return Result{Status: Fail, Detail: fmt.Sprintf("by %s: %v", conn.Via, err), Problem: unhealthy, Err: err}
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return Result{Status: Fail, Detail: fmt.Sprintf("by %s: /healthz answered %s", conn.Via, resp.Status), Problem: unhealthy}
	}
	admits, err := probeCredential(ctx, conn, ns)
	var refused *router.RefusedError
	var scope *router.ScopeError
	switch {
	case errors.As(err, &refused), errors.As(err, &scope):
		return Result{Status: Fail, Detail: fmt.Sprintf("healthy, by %s, but %v", conn.Via, err), Problem: RouterRefused, Err: err}
	case err != nil:
		return Result{Status: Warn, Detail: fmt.Sprintf("healthy, by %s, but a routed request failed: %v", conn.Via, err), Problem: unhealthy, Err: err}
	}
	return Result{Status: OK, Detail: "healthy, by " + conn.Via + "; " + admits}
}

// probeSandbox is the sandbox a routed request of doctor names when no
// scoped token names one: it does not exist, but the router authorizes a
// request before it looks for the sandbox.
const probeSandbox = "kubectl-sandbox-doctor-no-such-sandbox"

// probeCredential has the router route a request with the credential the
// verbs present: for the sandbox of a scoped token, else for a sandbox
// that does not exist. A 401 or 403 is a *router.RefusedError; any other
// answer says the router admits the credential (what it says is
// returned).
func probeCredential(ctx context.Context, conn *router.Conn, ns string) (string, error) {
	name := probeSandbox
	if s := conn.Credential.Scope; s != nil {
		ns, name = s.Namespace, s.Name
		if err := conn.Admits(ns, name); err != nil {
			return "", err
		}
	}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(conn.BaseURL.String(), "/")+"/", nil)
	req.Header.Set("X-Sandbox-ID", name)
	req.Header.Set("X-Sandbox-Namespace", ns)
	req.Header.Set("X-Sandbox-Port", "8888")
	resp, err := (&http.Client{Transport: conn.Transport, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
	if err != nil {
		return "", err
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	resp.Body.Close()
	if resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden {
		var answer struct {
			Detail string `json:"detail"`
		}
		_ = json.Unmarshal(body, &answer)
		return "", conn.Explain(resp, &sandbox.HTTPError{Op: "a routed request", Status: resp.StatusCode, Detail: answer.Detail, Sandbox: name})
	}
	c := conn.Credential
	switch {
	case c.Presents == router.PresentKubeconfig:
		return "it takes your kubeconfig's bearer token", nil
	case c.Presents == router.PresentToken:
		return "it takes the router token", nil
	case c.Presents == router.PresentScoped && c.Scope != nil:
		return "it takes the scoped token for sandbox " + c.Scope.String(), nil
	case c.Presents == router.PresentScoped:
		return "it takes the scoped token", nil
	case c.WithheldFrom != "":
		return "it takes requests without a token (your kubeconfig's is not sent over plain http)", nil
	}
	return "it takes requests without a token", nil
}

// access is one permission the plugin's verbs need; an optional one only
// where the cluster needs it (a missing one warns).
type access struct {
	verb, group, resource, sub, why string
	optional                        bool
}

var accesses = []access{
	{"create", "extensions.agents.x-k8s.io", "sandboxclaims", "", "create, run", false},
	{"delete", "extensions.agents.x-k8s.io", "sandboxclaims", "", "delete, run", false},
	{"list", "extensions.agents.x-k8s.io", "sandboxclaims", "", "get, exec -l", false},
	{"patch", "agents.x-k8s.io", "sandboxes", "", "suspend, resume", false},
	{"get", "", "pods", "", "describe, logs", false},
	{"get", "", "pods", "log", "logs", false},
	{"create", "", "pods", "portforward", "the router's port-forward, sandboxd, port-forward", false},
	{"create", "", "pods", "exec", "sandboxd and port-forward on gVisor or Kata pods, --transport exec", true},
}

func checkAccess(ctx context.Context, clients *kube.Clients, ns string) Result {
	if clients.Authz == nil {
		return Result{Status: Skip, Detail: "no authorization client"}
	}
	var denied, optional, errs []string
	for _, a := range accesses {
		what := a.verb + " " + a.resource
		if a.sub != "" {
			what += "/" + a.sub
		}
		review, err := clients.Authz.SelfSubjectAccessReviews().Create(ctx, &authzv1.SelfSubjectAccessReview{
			Spec: authzv1.SelfSubjectAccessReviewSpec{ResourceAttributes: &authzv1.ResourceAttributes{
				Namespace: ns, Verb: a.verb, Group: a.group, Resource: a.resource, Subresource: a.sub,
			}},
		}, metav1.CreateOptions{})
		switch {
		case err != nil:
			errs = append(errs, what+": "+err.Error())
		case !review.Status.Allowed && a.optional:
			optional = append(optional, fmt.Sprintf("%s (for %s)", what, a.why))
		case !review.Status.Allowed:
			denied = append(denied, fmt.Sprintf("%s (for %s)", what, a.why))
		}
	}
	switch {
	case len(denied) > 0:
		return Result{Status: Fail, Detail: "in namespace " + ns + " you may not: " + strings.Join(append(denied, optional...), "; "), Problem: Denied}
	case len(errs) > 0:
		return Result{Status: Warn, Detail: "could not ask: " + strings.Join(errs, "; "), Problem: ReviewFailed}
	case len(optional) > 0:
		return Result{Status: Warn, Detail: "in namespace " + ns + " you may not: " + strings.Join(optional, "; "), Problem: Denied}
	}
	return Result{Status: OK, Detail: fmt.Sprintf("in namespace %s you may do all %d things the verbs need", ns, len(accesses))}
}

// probe creates a claim, runs `true` in its sandbox, tries the transports
// to it (the second result, nil when there was no sandbox to try), and
// deletes it.
func probe(ctx context.Context, clients *kube.Clients, o Options) (Result, *Result) {
	pool, err := probePool(ctx, clients, o)
	if err != nil {
		return Result{Status: Fail, Detail: err.Error(), Problem: NoProbePool}, nil
	}
	timeout := o.ProbeTimeout
	if timeout <= 0 {
		timeout = time.Minute
	}
	start := time.Now()
	claim := claims.NewClaim(claims.Spec{Namespace: o.Namespace, Pool: pool, TTL: 10 * time.Minute, Labels: map[string]string{"kubectl-sandbox/doctor": "true"}}, o.Now())
	ready, err := claims.CreateAndWait(ctx, clients.Ext, claim, timeout, claims.WaitHooks{Pods: clients.Core})
	if err != nil {
		return Result{Status: Fail, Detail: fmt.Sprintf("claim on pool %s: %v", pool, err), Problem: ProbeClaim}, nil
	}
	readyAt := time.Since(start)
	defer func() {
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), claims.CleanupTimeout)
		defer cancel()
		_, _ = claims.DeleteAll(dctx, clients.Ext, o.Namespace, []string{ready.Name}, claims.DeleteOptions{})
	}()
	execStart := time.Now()
	err = runTrue(ctx, clients, o, ready)
	execTook := time.Since(execStart)
	tStart := time.Now()
	ways := transports(ctx, clients, o, pool, ready, tried{err: err, took: execTook})
	ways.Took = time.Since(tStart)
	if err != nil {
		return Result{Status: Fail, Detail: fmt.Sprintf("sandbox %s Ready in %s, then: %v", claims.SandboxName(ready), readyAt.Round(time.Millisecond), err), Problem: ProbeExec}, &ways
	}
	delStart := time.Now()
	dctx, cancel := context.WithTimeout(ctx, claims.CleanupTimeout)
	defer cancel()
	if _, err := claims.DeleteAll(dctx, clients.Ext, o.Namespace, []string{ready.Name}, claims.DeleteOptions{Wait: true, Timeout: claims.CleanupTimeout}); err != nil {
		return Result{Status: Fail, Detail: fmt.Sprintf("deleting the probe's claim %s: %v", ready.Name, err), Problem: ProbeDelete}, &ways
	}
	return Result{Status: OK, Detail: fmt.Sprintf("pool %s: Ready in %s, `true` ran in %s, deleted in %s",
		pool, readyAt.Round(time.Millisecond), execTook.Round(time.Millisecond), time.Since(delStart).Round(time.Millisecond))}, &ways
}

// runTrue runs `true` in the claim's sandbox, as exec does.
func runTrue(ctx context.Context, clients *kube.Clients, o Options, ready *extv1beta1.SandboxClaim) error {
	s := session.New(clients, o.Namespace, o.Session)
	defer s.Close()
	rt, err := s.Runtime(ctx, ready)
	if err != nil {
		return err
	}
	res, err := sandbox.Run(ctx, rt, sandbox.Command{Argv: []string{"true"}}, sandbox.IO{Timeout: 30 * time.Second})
	if err == nil && res.ExitCode != 0 {
		err = fmt.Errorf("`true` exited %d: %s", res.ExitCode, strings.TrimSpace(res.Stderr))
	}
	return err
}

// probePool is --pool, else the pool with the most ready sandboxes.
func probePool(ctx context.Context, clients *kube.Clients, o Options) (string, error) {
	if o.Pool != "" {
		return o.Pool, nil
	}
	pools, err := clients.Ext.ExtensionsV1beta1().SandboxWarmPools(o.Namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return "", err
	}
	best, most := "", int32(-1)
	for _, p := range pools.Items {
		if p.Status.ReadyReplicas > most || p.Status.ReadyReplicas == most && p.Name < best {
			best, most = p.Name, p.Status.ReadyReplicas
		}
	}
	if best == "" {
		return "", fmt.Errorf("no sandboxwarmpool in namespace %s to probe", o.Namespace)
	}
	return best, nil
}
