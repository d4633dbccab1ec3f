package doctor

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	authzv1 "k8s.io/api/authorization/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/version"
	discoveryfake "k8s.io/client-go/discovery/fake"
	k8sfake "k8s.io/client-go/kubernetes/fake"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/rest"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/utils/ptr"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
	gatewayfake "sigs.k8s.io/gateway-api/pkg/client/clientset/versioned/fake"

	sandboxv1beta1 "sigs.k8s.io/agent-sandbox/api/v1beta1"
	agentsfake "sigs.k8s.io/agent-sandbox/clients/k8s/clientset/versioned/fake"
	extfake "sigs.k8s.io/agent-sandbox/clients/k8s/extensions/clientset/versioned/fake"
	extv1beta1 "sigs.k8s.io/agent-sandbox/extensions/api/v1beta1"

	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/claims"
	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/kube"
	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/kube/kubetest"
	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/podforward/podforwardtest"
	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/python/pythontest"
	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/router"
	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/session"
)

const ns = "team"

var testNow = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

func now() time.Time { return testNow }

// allAPIs is discovery serving every agent-sandbox resource the plugin uses.
func allAPIs() []*metav1.APIResourceList {
	return []*metav1.APIResourceList{
		{GroupVersion: "agents.x-k8s.io/v1beta1", APIResources: []metav1.APIResource{{Name: "sandboxes"}, {Name: "sandboxes/status"}}},
		{GroupVersion: "extensions.agents.x-k8s.io/v1beta1", APIResources: []metav1.APIResource{
			{Name: "sandboxclaims"}, {Name: "sandboxtemplates"}, {Name: "sandboxwarmpools"},
		}},
	}
}

func template(name string) *extv1beta1.SandboxTemplate {
	return &extv1beta1.SandboxTemplate{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}}
}

// pool is a warm pool created an hour before testNow.
func pool(name, template string, replicas, ready int32) *extv1beta1.SandboxWarmPool {
	return &extv1beta1.SandboxWarmPool{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, CreationTimestamp: metav1.NewTime(testNow.Add(-time.Hour))},
		Spec:       extv1beta1.SandboxWarmPoolSpec{Replicas: ptr.To(replicas), TemplateRef: extv1beta1.SandboxTemplateRef{Name: template}},
		Status:     extv1beta1.SandboxWarmPoolStatus{ReadyReplicas: ready},
	}
}

// unreconciled is a pool with no status at all, created age before testNow.
func unreconciled(name string, replicas int32, age time.Duration) *extv1beta1.SandboxWarmPool {
	p := pool(name, "python", replicas, 0)
	p.CreationTimestamp = metav1.NewTime(testNow.Add(-age))
	return p
}

func claimWith(name string, conds ...metav1.Condition) *extv1beta1.SandboxClaim {
	return &extv1beta1.SandboxClaim{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}, Status: extv1beta1.SandboxClaimStatus{Conditions: conds}}
}

// fixture is a fake cluster: clientsets for every group, discovery and
// access reviews.
type fixture struct {
	clients *kube.Clients
	core    *k8sfake.Clientset
	ext     *extfake.Clientset
	agents  *agentsfake.Clientset
	gateway *gatewayfake.Clientset
	authz   *k8sfake.Clientset
	disco   *discoveryfake.FakeDiscovery
	// denied are the access reviews answered no, as "verb resource[/sub]".
	denied map[string]bool
	// reviews are the access reviews asked, in order.
	reviews []string
}

func newFixture(t *testing.T, objs ...runtime.Object) *fixture {
	t.Helper()
	var ext, core []runtime.Object
	for _, o := range objs {
		switch o.(type) {
		case *corev1.Pod, *corev1.Service, *appsv1.Deployment, *coordinationv1.Lease:
			core = append(core, o)
		default:
			ext = append(ext, o)
		}
	}
	f := &fixture{
		core: k8sfake.NewClientset(core...), ext: extfake.NewSimpleClientset(ext...), agents: agentsfake.NewSimpleClientset(),
		gateway: gatewayfake.NewSimpleClientset(), authz: k8sfake.NewClientset(),
		disco:  &discoveryfake.FakeDiscovery{Fake: &k8stesting.Fake{Resources: allAPIs()}, FakedServerVersion: &version.Info{GitVersion: "v1.33.1"}},
		denied: map[string]bool{},
	}
	f.ext.PrependWatchReactor("*", kubetest.NoStreamingList)
	f.authz.PrependReactor("create", "selfsubjectaccessreviews", func(a k8stesting.Action) (bool, runtime.Object, error) {
		r := a.(k8stesting.CreateAction).GetObject().(*authzv1.SelfSubjectAccessReview).DeepCopy()
		attr := r.Spec.ResourceAttributes
		what := attr.Verb + " " + attr.Resource
		if attr.Subresource != "" {
			what += "/" + attr.Subresource
		}
		if attr.Namespace != ns {
			t.Errorf("access to %s reviewed in namespace %q, want %q", what, attr.Namespace, ns)
		}
		f.reviews = append(f.reviews, what)
		r.Status.Allowed = !f.denied[what]
		return true, r, nil
	})
	f.clients = &kube.Clients{
		Config: &rest.Config{Host: "https://cluster.example:6443"},
		Core:   f.core.CoreV1(), Ext: f.ext, Agents: f.agents, Gateway: f.gateway, Authz: f.authz.AuthorizationV1(),
		Apps: f.core.AppsV1(), Coordination: f.core.CoordinationV1(),
	}
	return f
}

// healthy is the usual cluster: a template, a full pool, all access.
func healthy(t *testing.T, extra ...runtime.Object) *fixture {
	return newFixture(t, append([]runtime.Object{template("python"), pool("python", "python", 2, 2)}, extra...)...)
}

// run runs the checks in namespace team with the clock pinned, and checks
// that report heard each result as it is returned.
func (f *fixture) run(t *testing.T, o Options) []Result {
	t.Helper()
	o.Namespace, o.Now = ns, now
	var reported []Result
	results := Run(context.Background(), f.clients, f.disco, o, func(r Result) { reported = append(reported, r) })
	if !reflect.DeepEqual(reported, results) {
		t.Errorf("reported %v\nreturned %v", reported, results)
	}
	for _, r := range results {
		if r.Took < 0 {
			t.Errorf("%s took %s", r.Check, r.Took)
		}
	}
	return results
}

// verdicts words results as "check status [problem]".
func verdicts(results []Result) []string {
	var out []string
	for _, r := range results {
		v := r.Check + " " + string(r.Status)
		if r.Problem != nil {
			v += " " + r.Problem.ID
		}
		out = append(out, v)
	}
	return out
}

func find(t *testing.T, results []Result, check string) Result {
	t.Helper()
	for _, r := range results {
		if r.Check == check {
			return r
		}
	}
	t.Fatalf("no %s check in %v", check, verdicts(results))
	return Result{}
}

// healthServer is a router whose /healthz answers status; it counts no
// other endpoint.
func healthServer(t *testing.T, status int) *url.URL {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/healthz" {
			http.NotFound(w, r)
			return
		}
		w.WriteHeader(status)
		_, _ = io.WriteString(w, "ok")
	}))
	t.Cleanup(srv.Close)
	u, err := url.Parse(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// dataPlane is the fake sandbox router of the data-plane tests, which also
// answers /healthz.
func dataPlane(t *testing.T) (*pythontest.Router, *url.URL) {
	t.Helper()
	r := pythontest.NewRouter(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.URL.Path == "/healthz" {
			_, _ = io.WriteString(w, "ok")
			return
		}
		r.Config.Handler.ServeHTTP(w, req)
	}))
	t.Cleanup(func() {
		srv.CloseClientConnections()
		srv.Close()
	})
	u, err := url.Parse(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	return r, u
}

// gatewayAt is Gateway gw in team, of an Accepted GatewayClass, Programmed,
// addressed at u, with its HTTPRoute Accepted in agent-sandbox-system.
func (f *fixture) gatewayAt(t *testing.T, u *url.URL) {
	t.Helper()
	port, err := strconv.Atoi(u.Port())
	if err != nil {
		t.Fatal(err)
	}
	g := &gatewayv1.Gateway{
		ObjectMeta: metav1.ObjectMeta{Name: "gw", Namespace: ns},
		Spec: gatewayv1.GatewaySpec{GatewayClassName: "traefik", Listeners: []gatewayv1.Listener{
			{Name: "http", Protocol: gatewayv1.HTTPProtocolType, Port: gatewayv1.PortNumber(port)},
		}},
		Status: gatewayv1.GatewayStatus{
			Addresses:  []gatewayv1.GatewayStatusAddress{{Value: u.Hostname()}},
			Conditions: []metav1.Condition{{Type: "Programmed", Status: metav1.ConditionTrue, Reason: "Programmed"}},
			Listeners:  []gatewayv1.ListenerStatus{{Name: "http", AttachedRoutes: 1}},
		},
	}
	class := &gatewayv1.GatewayClass{
		ObjectMeta: metav1.ObjectMeta{Name: "traefik"},
		Spec:       gatewayv1.GatewayClassSpec{ControllerName: "traefik.io/gateway-controller"},
		Status:     gatewayv1.GatewayClassStatus{Conditions: []metav1.Condition{{Type: "Accepted", Status: metav1.ConditionTrue, Reason: "Accepted"}}},
	}
	if _, err := f.gateway.GatewayV1().Gateways(ns).Create(context.Background(), g, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.gateway.GatewayV1().GatewayClasses().Create(context.Background(), class, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.gateway.GatewayV1().HTTPRoutes("agent-sandbox-system").Create(context.Background(), routeTo(metav1.ConditionTrue, metav1.ConditionTrue), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// routeTo is HTTPRoute sandbox-router-route in agent-sandbox-system, with
// Gateway team/gw as its parent and the Gateway's verdict on it.
func routeTo(accepted, resolved metav1.ConditionStatus) *gatewayv1.HTTPRoute {
	ref := gatewayv1.ParentReference{Name: "gw", Namespace: ptr.To(gatewayv1.Namespace(ns))}
	return &gatewayv1.HTTPRoute{
		ObjectMeta: metav1.ObjectMeta{Name: "sandbox-router-route", Namespace: "agent-sandbox-system"},
		Spec: gatewayv1.HTTPRouteSpec{
			CommonRouteSpec: gatewayv1.CommonRouteSpec{ParentRefs: []gatewayv1.ParentReference{ref}},
			Rules: []gatewayv1.HTTPRouteRule{{BackendRefs: []gatewayv1.HTTPBackendRef{{BackendRef: gatewayv1.BackendRef{
				BackendObjectReference: gatewayv1.BackendObjectReference{Name: "sandbox-router-svc", Port: ptr.To(gatewayv1.PortNumber(8080))},
			}}}}},
		},
		Status: gatewayv1.HTTPRouteStatus{RouteStatus: gatewayv1.RouteStatus{Parents: []gatewayv1.RouteParentStatus{{
			ParentRef: ref, ControllerName: "traefik.io/gateway-controller",
			Conditions: []metav1.Condition{
				{Type: "Accepted", Status: accepted, Reason: map[bool]string{true: "Accepted", false: "NotAllowedByListeners"}[accepted == metav1.ConditionTrue]},
				{Type: "ResolvedRefs", Status: resolved, Reason: map[bool]string{true: "ResolvedRefs", false: "BackendNotFound"}[resolved == metav1.ConditionTrue], Message: map[bool]string{true: "", false: "service agent-sandbox-system/sandbox-router-svc not found"}[resolved == metav1.ConditionTrue]},
			},
		}}}},
	}
}

// coreWithREST is a fake core client whose RESTClient is real: the
// port-forward URL is built from it.
type coreWithREST struct {
	corev1client.CoreV1Interface
	rest rest.Interface
}

func (c coreWithREST) RESTClient() rest.Interface { return c.rest }

// routerPodServer is an API server whose router pod answers every HTTP
// request with status, and closes the connection.
func routerPodServer(t *testing.T, status int) *podforwardtest.APIServer {
	return podforwardtest.NewAPIServer(t, func(port string, conn io.ReadWriter) {
		if _, err := http.ReadRequest(bufio.NewReader(conn)); err != nil {
			return
		}
		fmt.Fprintf(conn, "HTTP/1.1 %d %s\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", status, http.StatusText(status))
	})
}

// routerObjects are the router Service and a ready pod behind it in ns.
func routerObjects(namespace string) []runtime.Object {
	labels := map[string]string{"app": "sandbox-router"}
	return []runtime.Object{
		&corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: router.ServiceName, Namespace: namespace}, Spec: corev1.ServiceSpec{Selector: labels}},
		&corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: "router-0", Namespace: namespace, Labels: labels},
			Status:     corev1.PodStatus{Phase: corev1.PodRunning, Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}},
		},
	}
}

// portForwardTo makes the fixture's port-forwards go to the API server srv.
func (f *fixture) portForwardTo(t *testing.T, srv *podforwardtest.APIServer) {
	t.Helper()
	cfg := &rest.Config{Host: srv.URL}
	real, err := corev1client.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	f.clients.Config = cfg
	f.clients.Core = coreWithREST{f.core.CoreV1(), real.RESTClient()}
}

// probeClaims makes every created claim Ready at once, bound to sandbox
// sb-probe, as the controller would; answer may change it further.
func (f *fixture) probeClaims(answer func(*extv1beta1.SandboxClaim)) *[]*extv1beta1.SandboxClaim {
	var created []*extv1beta1.SandboxClaim
	f.ext.PrependReactor("create", "sandboxclaims", func(a k8stesting.Action) (bool, runtime.Object, error) {
		c := a.(k8stesting.CreateAction).GetObject().(*extv1beta1.SandboxClaim)
		if c.Name == "" {
			c.Name = c.GenerateName + "probe"
		}
		c.Status.Conditions = []metav1.Condition{{Type: claims.ConditionReady, Status: metav1.ConditionTrue, Reason: "DependenciesReady"}}
		c.Status.SandboxStatus.Name = "sb-probe"
		if answer != nil {
			answer(c)
		}
		created = append(created, c.DeepCopy())
		return false, nil, nil
	})
	return &created
}

// sandbox creates sb (through the fake's create: given to its
// constructor, a v1beta1 Sandbox is not found by a v1beta1 Get).
func (f *fixture) sandbox(t *testing.T, sb *sandboxv1beta1.Sandbox) {
	t.Helper()
	if _, err := f.agents.AgentsV1beta1().Sandboxes(sb.Namespace).Create(context.Background(), sb, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func (f *fixture) claimNames(t *testing.T) []string {
	t.Helper()
	list, err := f.ext.ExtensionsV1beta1().SandboxClaims(ns).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, c := range list.Items {
		names = append(names, c.Name)
	}
	return names
}

// TestRunAllOK: a healthy cluster passes every check, in order, including
// the router reached all three ways and a probe through the router.
func TestRunAllOK(t *testing.T) {
	srv := routerPodServer(t, http.StatusOK)
	f := healthy(t, routerObjects(ns)...)
	f.portForwardTo(t, srv)
	r, routerURL := dataPlane(t)
	f.gatewayAt(t, routerURL)
	created := f.probeClaims(nil)
	f.sandbox(t, &sandboxv1beta1.Sandbox{ObjectMeta: metav1.ObjectMeta{Name: "sb-probe", Namespace: ns}})
	results := f.run(t, Options{
		Session: session.Options{Router: router.Options{URL: routerURL, Gateway: "gw", GatewayTimeout: time.Minute}, ServerPort: 8888},
		Probe:   true,
	})
	want := []string{"api ok", "agent-sandbox-apis ok", "controller ok", "templates-and-pools ok", "router ok",
		"gatewayclass ok", "gateway ok", "httproute ok", "gateway-request ok", "router-url ok", "access ok", "probe ok", "transports ok"}
	if got := verdicts(results); !reflect.DeepEqual(got, want) {
		t.Fatalf("verdicts %q\nwant     %q\n%+v", got, want, results)
	}
	if Failed(results) {
		t.Error("Failed with every check ok")
	}
	details := map[string]string{
		CheckAPI:            srv.URL + ", Kubernetes v1.33.1",
		CheckAPIs:           "served: sandboxes.agents.x-k8s.io/v1beta1, sandboxclaims.extensions.agents.x-k8s.io/v1beta1, sandboxtemplates.extensions.agents.x-k8s.io/v1beta1, sandboxwarmpools.extensions.agents.x-k8s.io/v1beta1",
		CheckController:     "it reconciles warm pools (pool python: 2/2 ready)" + noDeployment,
		CheckPools:          "1 template(s); pools ready/desired: python 2/2",
		CheckRouter:         "healthy, by port-forward to pod team/router-0; it takes requests without a token",
		CheckGatewayClass:   "gatewayclass traefik (controller traefik.io/gateway-controller): Accepted",
		CheckGateway:        "Programmed; listener http at " + routerURL.String(),
		CheckHTTPRoute:      "httproute agent-sandbox-system/sandbox-router-route: Accepted, backends resolved (sandbox-router-svc:8080)",
		CheckGatewayRequest: "healthy, by gateway team/gw at " + routerURL.Host + " (listener http); it takes requests without a token",
		CheckRouterURL:      "healthy, by router " + routerURL.String() + "; it takes requests without a token",
		CheckAccess:         "in namespace team you may do all 8 things the verbs need",
	}
	for _, res := range results {
		if want, ok := details[res.Check]; ok && res.Detail != want {
			t.Errorf("%s: detail %q\nwant %q", res.Check, res.Detail, want)
		}
	}
	probeDetail := regexp.MustCompile("^pool python: Ready in [0-9.]+[µnm]?s, `true` ran in [0-9.]+[µnm]?s, deleted in [0-9.]+[µnm]?s$")
	if d := find(t, results, CheckProbe).Detail; !probeDetail.MatchString(d) {
		t.Errorf("probe detail %q", d)
	}
	// The pod answers through a port-forward; this API server serves no
	// exec.
	waysDetail := regexp.MustCompile(`^pool python \(python runtime\): port-forward ok \([0-9.]+[µnm]?s\), pods/exec fails \(.+\), router ok \([0-9.]+[µnm]?s\); the data plane uses router$`)
	if d := find(t, results, CheckTransports).Detail; !waysDetail.MatchString(d) {
		t.Errorf("transports detail %q", d)
	}
	// The probe claimed from the pool, labelled and with a TTL, ran `true`
	// in its sandbox and left nothing behind.
	if len(*created) != 1 {
		t.Fatalf("probe created %d claims", len(*created))
	}
	c := (*created)[0]
	if c.Spec.WarmPoolRef.Name != "python" || c.Labels["kubectl-sandbox/doctor"] != "true" || c.Spec.Lifecycle == nil ||
		!c.Spec.Lifecycle.ShutdownTime.Time.Equal(testNow.Add(10*time.Minute)) {
		t.Errorf("probe claim %+v", c)
	}
	var executed bool
	for _, req := range r.Requests() {
		if req.Path == "/execute" && req.Header.Get("X-Sandbox-ID") == "sb-probe" && req.Header.Get("X-Sandbox-Port") == "8888" {
			executed = true
		}
	}
	if !executed {
		t.Errorf("the probe ran nothing in sb-probe: %+v", r.Requests())
	}
	if left := f.claimNames(t); len(left) != 0 {
		t.Errorf("the probe left claims %v", left)
	}
	// The access check's, then the failed relay's.
	wantReviews := []string{"create sandboxclaims", "delete sandboxclaims", "list sandboxclaims", "patch sandboxes", "get pods", "get pods/log", "create pods/portforward", "create pods/exec", "create pods/exec"}
	if !reflect.DeepEqual(f.reviews, wantReviews) {
		t.Errorf("reviews %q, want %q", f.reviews, wantReviews)
	}
	<-srv.Ended // the router check closed its port-forward
}

// TestRunDefaultRouterNeedsItsService: without a router Service in the
// namespace or agent-sandbox-system, the router check fails and says where
// it looked; the rest still runs.
func TestRunDefaultRouterNeedsItsService(t *testing.T) {
	f := healthy(t)
	results := f.run(t, Options{})
	want := []string{"api ok", "agent-sandbox-apis ok", "controller ok", "templates-and-pools ok", "router fail unreachable-port-forward", "access ok"}
	if got := verdicts(results); !reflect.DeepEqual(got, want) {
		t.Fatalf("verdicts %q\nwant     %q", got, want)
	}
	if d := find(t, results, CheckRouter).Detail; d != "cannot port-forward to the sandbox router: no service sandbox-router-svc in namespace team, no service sandbox-router-svc in namespace agent-sandbox-system" {
		t.Errorf("router detail %q", d)
	}
	if !Failed(results) {
		t.Error("not Failed with the router check failed")
	}
	// --router-namespace: only that namespace is searched.
	results = f.run(t, Options{Session: session.Options{Router: router.Options{Namespace: "routers"}}})
	if r := find(t, results, CheckRouter); r.Problem != UnreachablePortForward ||
		r.Detail != "cannot port-forward to the sandbox router: no service sandbox-router-svc in namespace routers" {
		t.Errorf("router %+v", r)
	}
}

func TestRunRouterPortForwardUnhealthy(t *testing.T) {
	srv := routerPodServer(t, http.StatusServiceUnavailable)
	f := healthy(t, routerObjects(router.DefaultNamespace)...)
	f.portForwardTo(t, srv)
	r := find(t, f.run(t, Options{}), CheckRouter)
	if r.Status != Fail || r.Problem != UnhealthyPortForward ||
		r.Detail != "by port-forward to pod agent-sandbox-system/router-0: /healthz answered 503 Service Unavailable" {
		t.Errorf("router %+v", r)
	}
	<-srv.Ended
}

func TestRunAPIUnreachable(t *testing.T) {
	f := healthy(t)
	f.disco.PrependReactor("get", "version", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, errors.New("dial tcp 127.0.0.1:6443: connect: connection refused")
	})
	results := f.run(t, Options{Probe: true, Session: session.Options{Router: router.Options{URL: healthServer(t, http.StatusOK)}}})
	want := []Result{{Check: CheckAPI, Status: Fail, Detail: "dial tcp 127.0.0.1:6443: connect: connection refused", Problem: Unreachable}}
	for i := range results {
		results[i].Took = 0
	}
	if !reflect.DeepEqual(results, want) {
		t.Errorf("results %+v\nwant %+v", results, want)
	}
	if !Failed(results) {
		t.Error("not Failed")
	}
	if n := len(f.ext.Actions()) + len(f.core.Actions()) + len(f.authz.Actions()); n != 0 {
		t.Errorf("%d API calls after the API server was found unreachable", n)
	}
}

func TestRunMissingAPIs(t *testing.T) {
	tests := []struct {
		name      string
		resources []*metav1.APIResourceList
		detail    string
	}{
		{"no extensions group", allAPIs()[:1],
			"not served: sandboxclaims.extensions.agents.x-k8s.io/v1beta1, sandboxtemplates.extensions.agents.x-k8s.io/v1beta1, sandboxwarmpools.extensions.agents.x-k8s.io/v1beta1"},
		{"nothing", nil,
			"not served: sandboxes.agents.x-k8s.io/v1beta1, sandboxclaims.extensions.agents.x-k8s.io/v1beta1, sandboxtemplates.extensions.agents.x-k8s.io/v1beta1, sandboxwarmpools.extensions.agents.x-k8s.io/v1beta1"},
		{"a group without one resource", []*metav1.APIResourceList{
			{GroupVersion: "agents.x-k8s.io/v1beta1", APIResources: []metav1.APIResource{{Name: "sandboxes/status"}}}, allAPIs()[1]},
			"not served: sandboxes.agents.x-k8s.io/v1beta1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := healthy(t)
			f.disco.Resources = tt.resources
			results := f.run(t, Options{Probe: true})
			want := []string{"api ok", "agent-sandbox-apis fail missing-apis", "controller skip", "templates-and-pools skip",
				"router fail unreachable-port-forward", "access ok", "probe skip"}
			if got := verdicts(results); !reflect.DeepEqual(got, want) {
				t.Fatalf("verdicts %q\nwant     %q", got, want)
			}
			if d := find(t, results, CheckAPIs).Detail; d != tt.detail {
				t.Errorf("detail %q\nwant   %q", d, tt.detail)
			}
			for _, c := range []string{CheckController, CheckPools, CheckProbe} {
				if d := find(t, results, c).Detail; d != "needs the agent-sandbox APIs" {
					t.Errorf("%s: detail %q", c, d)
				}
			}
			if len(f.ext.Actions()) != 0 {
				t.Errorf("agent-sandbox API calls without the APIs: %v", f.ext.Actions())
			}
		})
	}
}

func listFails(f *k8stesting.Fake, resource string) {
	f.PrependReactor("list", resource, func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewForbidden(schema.GroupResource{Group: "extensions.agents.x-k8s.io", Resource: resource}, "", errors.New("no"))
	})
}

func TestCheckController(t *testing.T) {
	observed := pool("python", "python", 0, 0)
	observed.Status.ObservedGeneration = 1
	readyCond := metav1.Condition{Type: claims.ConditionReady, Status: metav1.ConditionFalse, Reason: "SandboxNotReady"}
	tests := []struct {
		name    string
		objs    []runtime.Object
		fail    string // a resource whose list fails
		status  Status
		problem *Problem
		detail  string
	}{
		{name: "a pool with ready sandboxes", objs: []runtime.Object{unreconciled("a", 1, time.Hour), pool("b", "python", 3, 1)},
			status: OK, detail: "it reconciles warm pools (pool b: 1/3 ready)"},
		{name: "an observed pool, empty", objs: []runtime.Object{observed},
			status: OK, detail: "it reconciles warm pools (pool python: 0/0 ready)"},
		{name: "a claim with a Ready condition", objs: []runtime.Object{unreconciled("a", 1, time.Hour), claimWith("c0"), claimWith("c1", readyCond)},
			status: OK, detail: "it reconciles claims (sandboxclaim c1 has a Ready condition)"},
		{name: "stale pools", objs: []runtime.Object{unreconciled("a", 1, 2*time.Minute), unreconciled("b", 2, time.Hour), unreconciled("c", 1, 30*time.Second), claimWith("c0")},
			status: Fail, problem: NotReconciling, detail: "2 warm pool(s) older than a minute have no status"},
		{name: "a young pool", objs: []runtime.Object{unreconciled("a", 1, 30*time.Second)},
			status: Warn, problem: Unknown, detail: "no pool or claim in namespace team to judge by"},
		{name: "an old pool of no replicas", objs: []runtime.Object{unreconciled("a", 0, time.Hour)},
			status: Warn, problem: Unknown, detail: "no pool or claim in namespace team to judge by"},
		{name: "nothing to judge by", status: Warn, problem: Unknown, detail: "no pool or claim in namespace team to judge by"},
		{name: "pools cannot be listed", fail: "sandboxwarmpools",
			status: Fail, problem: APIError, detail: "listing sandboxwarmpools: sandboxwarmpools.extensions.agents.x-k8s.io is forbidden: no"},
		{name: "claims cannot be listed", fail: "sandboxclaims",
			status: Fail, problem: APIError, detail: "listing sandboxclaims: sandboxclaims.extensions.agents.x-k8s.io is forbidden: no"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, tt.objs...)
			if tt.fail != "" {
				listFails(&f.ext.Fake, tt.fail)
			}
			r := checkController(context.Background(), f.clients, Options{Namespace: ns, Now: now})
			want := Result{Status: tt.status, Problem: tt.problem, Detail: tt.detail + noDeployment}
			if r != want {
				t.Errorf("got  %+v\nwant %+v", r, want)
			}
		})
	}
	// Through Run, a stale pool fails the controller check.
	f := newFixture(t, template("python"), unreconciled("python", 1, 2*time.Minute))
	if r := find(t, f.run(t, Options{}), CheckController); r.Status != Fail || r.Problem != NotReconciling {
		t.Errorf("controller %+v", r)
	}
}

func TestCheckPools(t *testing.T) {
	tests := []struct {
		name    string
		objs    []runtime.Object
		pool    string
		fail    string
		status  Status
		problem *Problem
		detail  string
	}{
		{name: "full pools", objs: []runtime.Object{template("python"), template("go"), pool("python", "python", 2, 2), pool("go", "go", 0, 0)},
			status: OK, detail: "2 template(s); pools ready/desired: go 0/0, python 2/2"},
		{name: "the pool asked for", objs: []runtime.Object{template("python"), pool("python", "python", 2, 2)}, pool: "python",
			status: OK, detail: "1 template(s); pools ready/desired: python 2/2"},
		{name: "a pool filling", objs: []runtime.Object{template("python"), pool("b", "python", 2, 2), pool("a", "python", 2, 1), pool("c", "python", 3, 0)},
			status: Warn, problem: PoolsFilling, detail: "1 template(s); pools ready/desired: a 1/2, b 2/2, c 0/3 (not full: a, c)"},
		{name: "a pool with a missing template", objs: []runtime.Object{template("python"), pool("python", "python", 1, 1), pool("old", "gone", 1, 0)},
			status: Fail, problem: MissingTemplate, detail: "pool old names missing template gone; 1 template(s); pools ready/desired: old 0/1, python 1/1"},
		{name: "no pools", objs: []runtime.Object{template("python")},
			status: Fail, problem: NoPools, detail: "1 template(s), no sandboxwarmpool in namespace team"},
		{name: "no such pool", objs: []runtime.Object{template("python"), pool("python", "python", 2, 2)}, pool: "nope",
			status: Fail, problem: NoSuchPool, detail: `no sandboxwarmpool "nope"; 1 template(s); pools ready/desired: python 2/2`},
		{name: "templates cannot be listed", fail: "sandboxtemplates",
			status: Fail, problem: APIError, detail: "listing sandboxtemplates: sandboxtemplates.extensions.agents.x-k8s.io is forbidden: no"},
		{name: "pools cannot be listed", fail: "sandboxwarmpools",
			status: Fail, problem: APIError, detail: "listing sandboxwarmpools: sandboxwarmpools.extensions.agents.x-k8s.io is forbidden: no"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, tt.objs...)
			if tt.fail != "" {
				listFails(&f.ext.Fake, tt.fail)
			}
			r := checkPools(context.Background(), f.clients, Options{Namespace: ns, Pool: tt.pool, Now: now})
			want := Result{Status: tt.status, Problem: tt.problem, Detail: tt.detail}
			if r != want {
				t.Errorf("got  %+v\nwant %+v", r, want)
			}
		})
	}
	// Through Run, with --pool.
	f := healthy(t)
	if r := find(t, f.run(t, Options{Pool: "nope"}), CheckPools); r.Status != Fail || r.Problem != NoSuchPool {
		t.Errorf("pools %+v", r)
	}
}

func TestRunRouterURL(t *testing.T) {
	f := healthy(t)
	down := healthServer(t, http.StatusServiceUnavailable)
	r := find(t, f.run(t, Options{Session: session.Options{Router: router.Options{URL: down}}}), CheckRouterURL)
	want := Result{Check: CheckRouterURL, Status: Fail, Problem: UnhealthyURL, Detail: "by router " + down.String() + ": /healthz answered 503 Service Unavailable"}
	r.Took = 0
	if r != want {
		t.Errorf("got  %+v\nwant %+v", r, want)
	}
	t.Run("nothing listens", func(t *testing.T) {
		srv := httptest.NewServer(http.NotFoundHandler())
		u, _ := url.Parse(srv.URL)
		srv.Close()
		r := checkRouter(context.Background(), f.clients, ns, router.Options{URL: u}, UnreachableURL, UnhealthyURL)
		if r.Status != Fail || r.Problem != UnhealthyURL || !strings.HasPrefix(r.Detail, "by router "+u.String()+": ") || !strings.Contains(r.Detail, "connection refused") {
			t.Errorf("got %+v", r)
		}
	})
	t.Run("a CA bundle that is not PEM", func(t *testing.T) {
		r := checkRouter(context.Background(), f.clients, ns, router.Options{URL: healthServer(t, http.StatusOK), CAData: []byte("not PEM")}, UnreachableURL, UnhealthyURL)
		want := Result{Status: Fail, Problem: UnreachableURL, Detail: "the router CA bundle holds no PEM certificate"}
		r.Err = nil
		if r != want {
			t.Errorf("got  %+v\nwant %+v", r, want)
		}
	})
}

// TestRunGateway: with --gateway, doctor checks the GatewayClass, the
// Gateway, its HTTPRoute and a request through it, one line and one fix
// each; what a check needs and an earlier one did not find skips it.
func TestRunGateway(t *testing.T) {
	gateways := schema.GroupResource{Group: "gateway.networking.k8s.io", Resource: "httproutes"}
	for _, tc := range []struct {
		name    string
		breakIt func(t *testing.T, f *fixture)
		scheme  string
		want    []string
		detail  map[string]string
	}{
		{
			name: "no gateway", breakIt: func(t *testing.T, f *fixture) { f.deleteGateway(t, "gateways", ns, "gw") },
			want:   []string{"gatewayclass fail gateway-not-found", "gateway skip", "httproute skip", "gateway-request skip"},
			detail: map[string]string{CheckGatewayClass: "gateway team/gw not found", CheckGateway: "needs the gateway", CheckHTTPRoute: "needs a Programmed gateway"},
		},
		{
			name: "no class", breakIt: func(t *testing.T, f *fixture) { f.deleteGateway(t, "gatewayclasses", "", "traefik") },
			want:   []string{"gatewayclass fail no-gatewayclass", "gateway ok", "httproute ok", "gateway-request ok"},
			detail: map[string]string{CheckGatewayClass: "gatewayclass traefik of gateway team/gw not found"},
		},
		{
			name: "a class not accepted", breakIt: func(t *testing.T, f *fixture) {
				f.update(t, "gatewayclasses", "", "traefik", func(o runtime.Object) {
					o.(*gatewayv1.GatewayClass).Status.Conditions = []metav1.Condition{{Type: "Accepted", Status: metav1.ConditionUnknown, Reason: "Pending", Message: "Waiting for controller"}}
				})
			},
			want:   []string{"gatewayclass fail gatewayclass-not-accepted", "gateway ok", "httproute ok", "gateway-request ok"},
			detail: map[string]string{CheckGatewayClass: "gatewayclass traefik (controller traefik.io/gateway-controller) is not Accepted (Pending: Waiting for controller)"},
		},
		{
			name: "a gateway not programmed", breakIt: func(t *testing.T, f *fixture) {
				f.update(t, "gateways", ns, "gw", func(o runtime.Object) {
					o.(*gatewayv1.Gateway).Status.Conditions = []metav1.Condition{{Type: "Programmed", Status: metav1.ConditionFalse, Reason: "AddressNotAssigned"}}
				})
			},
			want:   []string{"gatewayclass ok", "gateway fail gateway-not-programmed", "httproute skip", "gateway-request skip"},
			detail: map[string]string{CheckGateway: "gateway team/gw is not Programmed (AddressNotAssigned)"},
		},
		{
			name: "no https listener", scheme: "https",
			want:   []string{"gatewayclass ok", "gateway fail gateway-no-listener", "httproute skip", "gateway-request skip"},
			detail: map[string]string{CheckGateway: "gateway team/gw has no HTTPS listener"},
		},
		{
			name: "no route", breakIt: func(t *testing.T, f *fixture) {
				f.deleteGateway(t, "httproutes", "agent-sandbox-system", "sandbox-router-route")
				f.update(t, "gateways", ns, "gw", func(o runtime.Object) { o.(*gatewayv1.Gateway).Status.Listeners[0].AttachedRoutes = 0 })
			},
			want:   []string{"gatewayclass ok", "gateway ok", "httproute fail no-httproute", "gateway-request ok"},
			detail: map[string]string{CheckHTTPRoute: "no httproute names gateway team/gw as its parent (listener http: 0 attached route(s))"},
		},
		{
			name: "a route not accepted", breakIt: func(t *testing.T, f *fixture) {
				f.update(t, "httproutes", "agent-sandbox-system", "sandbox-router-route", func(o runtime.Object) {
					o.(*gatewayv1.HTTPRoute).Status = routeTo(metav1.ConditionFalse, metav1.ConditionTrue).Status
				})
			},
			want:   []string{"gatewayclass ok", "gateway ok", "httproute fail httproute-not-accepted", "gateway-request ok"},
			detail: map[string]string{CheckHTTPRoute: "httproute agent-sandbox-system/sandbox-router-route is not Accepted by gateway team/gw (NotAllowedByListeners)"},
		},
		{
			name: "a route without its backend", breakIt: func(t *testing.T, f *fixture) {
				f.update(t, "httproutes", "agent-sandbox-system", "sandbox-router-route", func(o runtime.Object) {
					o.(*gatewayv1.HTTPRoute).Status = routeTo(metav1.ConditionTrue, metav1.ConditionFalse).Status
				})
			},
			want: []string{"gatewayclass ok", "gateway ok", "httproute fail httproute-unresolved", "gateway-request ok"},
			detail: map[string]string{CheckHTTPRoute: "httproute agent-sandbox-system/sandbox-router-route is Accepted but its backends are not resolved " +
				"(BackendNotFound: service agent-sandbox-system/sandbox-router-svc not found)"},
		},
		{
			name: "a route without the gateway's status", breakIt: func(t *testing.T, f *fixture) {
				f.update(t, "httproutes", "agent-sandbox-system", "sandbox-router-route", func(o runtime.Object) { o.(*gatewayv1.HTTPRoute).Status = gatewayv1.HTTPRouteStatus{} })
			},
			want:   []string{"gatewayclass ok", "gateway ok", "httproute fail httproute-not-accepted", "gateway-request ok"},
			detail: map[string]string{CheckHTTPRoute: "httproute agent-sandbox-system/sandbox-router-route is not Accepted (the gateway's controller has not written its status)"},
		},
		{
			name: "routes that cannot be listed everywhere", breakIt: func(t *testing.T, f *fixture) {
				f.gateway.PrependReactor("list", "httproutes", func(a k8stesting.Action) (bool, runtime.Object, error) {
					if a.GetNamespace() == "" {
						return true, nil, apierrors.NewForbidden(gateways, "", errors.New("no"))
					}
					return false, nil, nil
				})
			},
			want:   []string{"gatewayclass ok", "gateway ok", "httproute warn httproute-unreadable", "gateway-request ok"},
			detail: map[string]string{CheckHTTPRoute: "cannot list httproutes in every namespace, and none in team names gateway team/gw; the gateway counts 1 route(s) attached to listener http"},
		},
		{
			name: "routes that cannot be listed at all", breakIt: func(t *testing.T, f *fixture) {
				f.gateway.PrependReactor("list", "httproutes", func(k8stesting.Action) (bool, runtime.Object, error) {
					return true, nil, apierrors.NewForbidden(gateways, "", errors.New("no"))
				})
			},
			want:   []string{"gatewayclass ok", "gateway ok", "httproute warn httproute-unreadable", "gateway-request ok"},
			detail: map[string]string{CheckHTTPRoute: "cannot list httproutes: httproutes.gateway.networking.k8s.io is forbidden: no; the gateway counts 1 route(s) attached to listener http"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := healthy(t)
			f.gatewayAt(t, healthServer(t, http.StatusOK))
			if tc.breakIt != nil {
				tc.breakIt(t, f)
			}
			results := f.run(t, Options{Session: session.Options{Router: router.Options{Gateway: "gw", GatewayTimeout: time.Minute, GatewayScheme: tc.scheme}}})
			var got []string
			for _, v := range verdicts(results) {
				if strings.HasPrefix(v, "gateway") || strings.HasPrefix(v, "httproute") {
					got = append(got, v)
				}
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("verdicts %q\nwant     %q", got, tc.want)
			}
			for check, want := range tc.detail {
				if d := find(t, results, check).Detail; d != want {
					t.Errorf("%s: %q\nwant %q", check, d, want)
				}
			}
		})
	}
	t.Run("unhealthy through the gateway", func(t *testing.T) {
		f := healthy(t)
		f.gatewayAt(t, healthServer(t, http.StatusBadGateway))
		r := find(t, f.run(t, Options{Session: session.Options{Router: router.Options{Gateway: "gw", GatewayTimeout: time.Minute}}}), CheckGatewayRequest)
		if r.Status != Fail || r.Problem != UnhealthyGateway || !strings.HasSuffix(r.Detail, ": /healthz answered 502 Bad Gateway") {
			t.Errorf("gateway %+v", r)
		}
	})
	t.Run("the gateway cannot be read", func(t *testing.T) {
		f := healthy(t)
		f.gateway.PrependReactor("get", "gateways", func(k8stesting.Action) (bool, runtime.Object, error) {
			return true, nil, apierrors.NewForbidden(schema.GroupResource{Group: "gateway.networking.k8s.io", Resource: "gateways"}, "gw", errors.New("no"))
		})
		r := find(t, f.run(t, Options{Session: session.Options{Router: router.Options{Gateway: "gw", GatewayTimeout: time.Minute}}}), CheckGatewayClass)
		if r.Status != Fail || r.Problem != GatewayUnreadable || r.Detail != `reading gateway team/gw: gateways.gateway.networking.k8s.io "gw" is forbidden: no` {
			t.Errorf("%+v", r)
		}
	})
	t.Run("the class cannot be read", func(t *testing.T) {
		f := healthy(t)
		f.gatewayAt(t, healthServer(t, http.StatusOK))
		f.gateway.PrependReactor("get", "gatewayclasses", func(k8stesting.Action) (bool, runtime.Object, error) {
			return true, nil, apierrors.NewForbidden(schema.GroupResource{Group: "gateway.networking.k8s.io", Resource: "gatewayclasses"}, "traefik", errors.New("no"))
		})
		r := find(t, f.run(t, Options{Session: session.Options{Router: router.Options{Gateway: "gw", GatewayTimeout: time.Minute}}}), CheckGatewayClass)
		if r.Status != Warn || r.Problem != GatewayClassUnreadable {
			t.Errorf("%+v", r)
		}
	})
}

// TestRunRouterRefuses: a router that asks for a token the verbs do not
// present fails its check with the refusal (which the front-end explains),
// and one that takes it says so.
func TestRunRouterRefuses(t *testing.T) {
	f := healthy(t)
	r, u := dataPlane(t)
	r.Authz = pythontest.RequireTokens("kube-tok")
	res := find(t, f.run(t, Options{Session: session.Options{Router: router.Options{URL: u}}}), CheckRouterURL)
	var refused *router.RefusedError
	if res.Status != Fail || res.Problem != RouterRefused || !errors.As(res.Err, &refused) ||
		res.Detail != "healthy, by router "+u.String()+", but a routed request: the sandbox router asks for a bearer token (HTTP 401: unauthenticated) and none was sent: your kubeconfig has no credentials" {
		t.Errorf("%+v", res)
	}
	if got := r.Requests()[0].Header.Get("X-Sandbox-ID"); got != probeSandbox {
		t.Errorf("the routed request named sandbox %q", got)
	}
	f.clients.Config.BearerToken = "kube-tok"
	res = find(t, f.run(t, Options{Session: session.Options{Router: router.Options{URL: u}}}), CheckRouterURL)
	if res.Status != OK || res.Detail != "healthy, by router "+u.String()+"; it takes your kubeconfig's bearer token" {
		t.Errorf("%+v", res)
	}
	t.Run("a scoped token", func(t *testing.T) {
		secret := []byte("0123456789abcdef0123456789abcdef")
		r.Authz = pythontest.ScopedTokens(secret, time.Now)
		for _, tc := range []struct {
			exp    time.Time
			status Status
			detail string
		}{
			{time.Now().Add(time.Hour), OK, "healthy, by router " + u.String() + "; it takes the scoped token for sandbox team/sb-1"},
			{time.Unix(1, 0), Fail, "healthy, by router " + u.String() + ", but the scoped router token for sandbox team/sb-1 expired at 1970-01-01T00:00:01Z"},
		} {
			token := pythontest.MintScopedToken(secret, "team", "sb-1", tc.exp)
			res := checkRouter(context.Background(), f.clients, ns, router.Options{URL: u, Token: token}, UnreachableURL, UnhealthyURL)
			if res.Status != tc.status || res.Detail != tc.detail {
				t.Errorf("%+v", res)
			}
		}
	})
}

func TestCheckAccess(t *testing.T) {
	tests := []struct {
		name    string
		denied  []string
		status  Status
		problem *Problem
		detail  string
	}{
		{name: "all allowed", status: OK, detail: "in namespace team you may do all 8 things the verbs need"},
		{name: "one verb denied", denied: []string{"create pods/portforward"}, status: Fail, problem: Denied,
			detail: "in namespace team you may not: create pods/portforward (for the router's port-forward, sandboxd, port-forward)"},
		{name: "two denied", denied: []string{"patch sandboxes", "get pods/log"}, status: Fail, problem: Denied,
			detail: "in namespace team you may not: patch sandboxes (for suspend, resume); get pods/log (for logs)"},
		{name: "no exec: a warning", denied: []string{"create pods/exec"}, status: Warn, problem: Denied,
			detail: "in namespace team you may not: create pods/exec (for sandboxd and port-forward on gVisor or Kata pods, --transport exec)"},
		{name: "no exec and no port-forward", denied: []string{"create pods/exec", "create pods/portforward"}, status: Fail, problem: Denied,
			detail: "in namespace team you may not: create pods/portforward (for the router's port-forward, sandboxd, port-forward); create pods/exec (for sandboxd and port-forward on gVisor or Kata pods, --transport exec)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := healthy(t)
			for _, d := range tt.denied {
				f.denied[d] = true
			}
			results := f.run(t, Options{})
			r := find(t, results, CheckAccess)
			r.Check, r.Took = "", 0
			want := Result{Status: tt.status, Problem: tt.problem, Detail: tt.detail}
			if r != want {
				t.Errorf("got  %+v\nwant %+v", r, want)
			}
		})
	}
	t.Run("reviews fail", func(t *testing.T) {
		f := healthy(t)
		f.authz.PrependReactor("create", "selfsubjectaccessreviews", func(k8stesting.Action) (bool, runtime.Object, error) {
			return true, nil, errors.New("the server is busy")
		})
		r := checkAccess(context.Background(), f.clients, ns)
		if r.Status != Warn || r.Problem != ReviewFailed ||
			!strings.HasPrefix(r.Detail, "could not ask: create sandboxclaims: the server is busy; delete sandboxclaims: the server is busy;") {
			t.Errorf("got %+v", r)
		}
	})
	t.Run("a denial outweighs failed reviews", func(t *testing.T) {
		f := healthy(t)
		f.authz.PrependReactor("create", "selfsubjectaccessreviews", func(a k8stesting.Action) (bool, runtime.Object, error) {
			if a.(k8stesting.CreateAction).GetObject().(*authzv1.SelfSubjectAccessReview).Spec.ResourceAttributes.Verb == "list" {
				return true, nil, errors.New("the server is busy")
			}
			return false, nil, nil
		})
		f.denied["delete sandboxclaims"] = true
		r := checkAccess(context.Background(), f.clients, ns)
		if r.Status != Fail || r.Problem != Denied || r.Detail != "in namespace team you may not: delete sandboxclaims (for delete, run)" {
			t.Errorf("got %+v", r)
		}
	})
	t.Run("no authorization client", func(t *testing.T) {
		f := healthy(t)
		f.clients.Authz = nil
		if r := checkAccess(context.Background(), f.clients, ns); r != (Result{Status: Skip, Detail: "no authorization client"}) {
			t.Errorf("got %+v", r)
		}
	})
}

func TestFailed(t *testing.T) {
	for _, tc := range []struct {
		statuses []Status
		want     bool
	}{
		{nil, false},
		{[]Status{OK, Warn, Skip}, false},
		{[]Status{OK, Fail, OK}, true},
		{[]Status{Fail}, true},
	} {
		var results []Result
		for _, s := range tc.statuses {
			results = append(results, Result{Status: s})
		}
		if got := Failed(results); got != tc.want {
			t.Errorf("Failed(%v) = %v, want %v", tc.statuses, got, tc.want)
		}
	}
}

func TestProbePool(t *testing.T) {
	tests := []struct {
		name string
		objs []runtime.Object
		pool string
		fail bool
		want string
		err  string
	}{
		{name: "the most ready sandboxes", objs: []runtime.Object{pool("a", "t", 2, 1), pool("b", "t", 5, 3), pool("c", "t", 1, 0)}, want: "b"},
		{name: "ties go to the first name", objs: []runtime.Object{pool("z", "t", 3, 3), pool("m", "t", 3, 3), pool("q", "t", 1, 1)}, want: "m"},
		{name: "empty pools count", objs: []runtime.Object{pool("cold", "t", 0, 0)}, want: "cold"},
		{name: "--pool, without listing", pool: "mine", fail: true, want: "mine"},
		{name: "no pools", err: "no sandboxwarmpool in namespace team to probe"},
		{name: "pools cannot be listed", fail: true, err: "sandboxwarmpools.extensions.agents.x-k8s.io is forbidden: no"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, tt.objs...)
			if tt.fail {
				listFails(&f.ext.Fake, "sandboxwarmpools")
			}
			got, err := probePool(context.Background(), f.clients, Options{Namespace: ns, Pool: tt.pool})
			gotErr := ""
			if err != nil {
				gotErr = err.Error()
			}
			if got != tt.want || gotErr != tt.err {
				t.Errorf("got %q, %q; want %q, %q", got, gotErr, tt.want, tt.err)
			}
		})
	}
}

// TestProbeFailures: each step of the probe that fails is named, and the
// probe's claim is not left behind.
func TestProbeFailures(t *testing.T) {
	t.Run("no pool to probe", func(t *testing.T) {
		f := newFixture(t)
		r, ways := probe(context.Background(), f.clients, Options{Namespace: ns, Now: now})
		if ways != nil {
			t.Errorf("transports tried without a sandbox: %+v", ways)
		}
		want := Result{Status: Fail, Problem: NoProbePool, Detail: "no sandboxwarmpool in namespace team to probe"}
		if r != want {
			t.Errorf("got  %+v\nwant %+v", r, want)
		}
	})
	t.Run("the claim fails", func(t *testing.T) {
		f := healthy(t)
		f.probeClaims(func(c *extv1beta1.SandboxClaim) {
			// A terminal reason (a missing template would be the
			// controller's lag here: the pool and template exist).
			c.Status.Conditions = []metav1.Condition{{Type: claims.ConditionReady, Status: metav1.ConditionFalse, Reason: "InvalidMetadata", Message: "bad"}}
			c.Status.SandboxStatus.Name = ""
		})
		r, _ := probe(context.Background(), f.clients, Options{Namespace: ns, Now: now, ProbeTimeout: time.Minute})
		want := Result{Status: Fail, Problem: ProbeClaim,
			Detail: `claim on pool python: sandboxclaim "sandbox-claim-probe" failed: InvalidMetadata: bad (sandboxclaim "sandbox-claim-probe" was deleted)`}
		if r != want {
			t.Errorf("got  %+v\nwant %+v", r, want)
		}
		if left := f.claimNames(t); len(left) != 0 {
			t.Errorf("claims left %v", left)
		}
	})
	t.Run("the claim does not become Ready in time", func(t *testing.T) {
		f := healthy(t)
		f.probeClaims(func(c *extv1beta1.SandboxClaim) { c.Status = extv1beta1.SandboxClaimStatus{} })
		r, _ := probe(context.Background(), f.clients, Options{Namespace: ns, Now: now, ProbeTimeout: 50 * time.Millisecond})
		if r.Status != Fail || r.Problem != ProbeClaim ||
			r.Detail != `claim on pool python: timed out after 50ms waiting for sandboxclaim "sandbox-claim-probe" to become Ready (sandboxclaim "sandbox-claim-probe" was deleted)` {
			t.Errorf("got %+v", r)
		}
	})
	t.Run("the command fails", func(t *testing.T) {
		f := healthy(t)
		f.probeClaims(nil)
		r, u := dataPlane(t)
		r.Exec = func(id string, argv []string) (string, string, int) { return "", "no shell here\n", 127 }
		res, _ := probe(context.Background(), f.clients, Options{Namespace: ns, Now: now, Pool: "python",
			Session: session.Options{Router: router.Options{URL: u}, ServerPort: 8888}})
		detail := regexp.MustCompile("^sandbox sb-probe Ready in [0-9.]+[µnm]?s, then: `true` exited 127: no shell here$")
		if res.Status != Fail || res.Problem != ProbeExec || !detail.MatchString(res.Detail) {
			t.Errorf("got %+v", res)
		}
		if left := f.claimNames(t); len(left) != 0 {
			t.Errorf("claims left %v", left)
		}
	})
	t.Run("the router cannot be reached", func(t *testing.T) {
		f := healthy(t)
		f.probeClaims(nil)
		res, _ := probe(context.Background(), f.clients, Options{Namespace: ns, Now: now})
		if res.Status != Fail || res.Problem != ProbeExec || !strings.Contains(res.Detail, "then: cannot port-forward to the sandbox router: no service sandbox-router-svc in namespace team") {
			t.Errorf("got %+v", res)
		}
		if left := f.claimNames(t); len(left) != 0 {
			t.Errorf("claims left %v", left)
		}
	})
	t.Run("the claim cannot be deleted", func(t *testing.T) {
		f := healthy(t)
		f.probeClaims(nil)
		f.ext.PrependReactor("delete", "sandboxclaims", func(k8stesting.Action) (bool, runtime.Object, error) {
			return true, nil, apierrors.NewForbidden(schema.GroupResource{Group: "extensions.agents.x-k8s.io", Resource: "sandboxclaims"}, "sandbox-claim-probe", errors.New("no"))
		})
		_, u := dataPlane(t)
		res, _ := probe(context.Background(), f.clients, Options{Namespace: ns, Now: now, Session: session.Options{Router: router.Options{URL: u}, ServerPort: 8888}})
		want := Result{Status: Fail, Problem: ProbeDelete,
			Detail: `deleting the probe's claim sandbox-claim-probe: deleting sandboxclaim "sandbox-claim-probe": sandboxclaims.extensions.agents.x-k8s.io "sandbox-claim-probe" is forbidden: no`}
		if res != want {
			t.Errorf("got  %+v\nwant %+v", res, want)
		}
	})
}

// deleteGateway deletes a Gateway API object.
func (f *fixture) deleteGateway(t *testing.T, resource, namespace, name string) {
	t.Helper()
	if err := f.gateway.Tracker().Delete(schema.GroupVersionResource{Group: gatewayv1.GroupName, Version: "v1", Resource: resource}, namespace, name); err != nil {
		t.Fatal(err)
	}
}

// update changes a Gateway API object in place.
func (f *fixture) update(t *testing.T, resource, namespace, name string, change func(runtime.Object)) {
	t.Helper()
	gvr := schema.GroupVersionResource{Group: gatewayv1.GroupName, Version: "v1", Resource: resource}
	o, err := f.gateway.Tracker().Get(gvr, namespace, name)
	if err != nil {
		t.Fatal(err)
	}
	change(o)
	if err := f.gateway.Tracker().Update(gvr, o, namespace); err != nil {
		t.Fatal(err)
	}
}
