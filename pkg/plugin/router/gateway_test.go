package router

import (
	"context"
	"crypto/x509"
	"errors"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/utils/ptr"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
	gatewayfake "sigs.k8s.io/gateway-api/pkg/client/clientset/versioned/fake"

	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/kube"

	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/kube/kubetest"
)

var gatewaysResource = schema.GroupResource{Group: "gateway.networking.k8s.io", Resource: "gateways"}

// gateway is Gateway "gw" in namespace "team", Programmed.
func gateway(addrs []string, listeners ...gatewayv1.Listener) *gatewayv1.Gateway {
	g := &gatewayv1.Gateway{
		ObjectMeta: metav1.ObjectMeta{Name: "gw", Namespace: "team", Generation: 2},
		Spec:       gatewayv1.GatewaySpec{Listeners: listeners},
	}
	for _, a := range addrs {
		g.Status.Addresses = append(g.Status.Addresses, gatewayv1.GatewayStatusAddress{Value: a})
	}
	return withProgrammed(g, metav1.ConditionTrue, "Programmed", "", 2)
}

// withProgrammed sets g's Programmed condition.
func withProgrammed(g *gatewayv1.Gateway, status metav1.ConditionStatus, reason, msg string, gen int64) *gatewayv1.Gateway {
	g.Status.Conditions = []metav1.Condition{{Type: "Programmed", Status: status, Reason: reason, Message: msg, ObservedGeneration: gen}}
	return g
}

// listener is a listener named after its protocol.
func listener(proto gatewayv1.ProtocolType, port int32) gatewayv1.Listener {
	return gatewayv1.Listener{Name: gatewayv1.SectionName(strings.ToLower(string(proto))), Protocol: proto, Port: port}
}

func withHostname(l gatewayv1.Listener, h string) gatewayv1.Listener {
	l.Hostname = ptr.To(gatewayv1.Hostname(h))
	return l
}

func TestGatewayEndpoint(t *testing.T) {
	http80, https443 := listener(gatewayv1.HTTPProtocolType, 80), listener(gatewayv1.HTTPSProtocolType, 443)
	ca := []byte("pem")
	listenerDown := gateway([]string{"10.0.0.1"}, http80, https443)
	listenerDown.Status.Listeners = []gatewayv1.ListenerStatus{
		{Name: "http", Conditions: []metav1.Condition{{Type: "Programmed", Status: metav1.ConditionTrue}}},
		{Name: "https", Conditions: []metav1.Condition{{Type: "Programmed", Status: metav1.ConditionFalse, Reason: "Invalid", Message: "secret  router-tls\nnot found"}}},
	}
	for _, tc := range []struct {
		name         string
		g            *gatewayv1.Gateway
		o            Options
		want, host   string
		err          string
		noListener   bool
		wantListener string
	}{
		{name: "http on 80", g: gateway([]string{"10.1.2.3"}, http80), want: "http://10.1.2.3:80", wantListener: "http"},
		{name: "http when nothing says how to verify https", g: gateway([]string{"10.1.2.3"}, https443, http80), want: "http://10.1.2.3:80"},
		{name: "https with a CA", g: gateway([]string{"10.1.2.3"}, http80, https443), o: Options{CAData: ca}, want: "https://10.1.2.3:443", wantListener: "https"},
		{name: "https when told not to verify", g: gateway([]string{"10.1.2.3"}, http80, https443), o: Options{InsecureSkipTLSVerify: true}, want: "https://10.1.2.3:443"},
		{name: "https when it is the only one", g: gateway([]string{"gw.example.com"}, listener(gatewayv1.TCPProtocolType, 9000), listener(gatewayv1.HTTPSProtocolType, 8443)), want: "https://gw.example.com:8443"},
		{name: "https asked for", g: gateway([]string{"10.1.2.3"}, http80, https443), o: Options{GatewayScheme: "https"}, want: "https://10.1.2.3:443"},
		{name: "http asked for", g: gateway([]string{"10.1.2.3"}, http80, https443), o: Options{GatewayScheme: "http", CAData: ca}, want: "http://10.1.2.3:80"},
		{name: "https asked for, none", g: gateway([]string{"10.1.2.3"}, http80), o: Options{GatewayScheme: "https"}, err: "gateway team/gw has no HTTPS listener", noListener: true},
		{name: "http asked for, none", g: gateway([]string{"10.1.2.3"}, https443), o: Options{GatewayScheme: "http"}, err: "gateway team/gw has no HTTP listener", noListener: true},
		{name: "no http listener", g: gateway([]string{"10.0.0.1"}, listener(gatewayv1.TCPProtocolType, 80)), err: "gateway team/gw has no HTTP or HTTPS listener", noListener: true},
		{name: "no listener", g: gateway([]string{"10.0.0.1"}), err: "gateway team/gw has no HTTP or HTTPS listener", noListener: true},
		{name: "a listener's hostname", g: gateway([]string{"10.1.2.3"}, withHostname(https443, "router.example.com")), want: "https://10.1.2.3:443", host: "router.example.com"},
		{name: "a wildcard hostname names no host", g: gateway([]string{"10.1.2.3"}, withHostname(http80, "*.example.com")), want: "http://10.1.2.3:80"},
		{name: "ipv6", g: gateway([]string{"fd00::1"}, listener(gatewayv1.HTTPProtocolType, 8080)), want: "http://[fd00::1]:8080"},
		{name: "first usable address", g: gateway([]string{"", "1.2.3", "bad/host", "10.0.0.9", "10.0.0.10"}, http80), want: "http://10.0.0.9:80"},
		{name: "no address", g: gateway(nil, http80), err: "gateway team/gw has no usable address (status.addresses has no IP address or hostname yet)"},
		{name: "no usable address", g: gateway([]string{"Not_A_Host"}, http80), err: "gateway team/gw has no usable address (status.addresses has no IP address or hostname yet)"},
		{
			name: "no controller", g: func() *gatewayv1.Gateway {
				g := gateway([]string{"10.0.0.1"}, http80)
				g.Status.Conditions = nil
				return g
			}(),
			err: "gateway team/gw is not Programmed (no Gateway controller has written its status: check its gatewayClassName)",
		},
		{
			name: "pending", g: withProgrammed(gateway(nil, http80), metav1.ConditionUnknown, "Pending", "Waiting for controller", 2),
			err: "gateway team/gw is not Programmed (Pending: Waiting for controller)",
		},
		{
			name: "not programmed, reason only", g: withProgrammed(gateway(nil, http80), metav1.ConditionFalse, "AddressNotAssigned", "", 2),
			err: "gateway team/gw is not Programmed (AddressNotAssigned)",
		},
		{
			name: "an old generation's condition", g: withProgrammed(gateway([]string{"10.0.0.1"}, http80), metav1.ConditionTrue, "Programmed", "", 1),
			err: "gateway team/gw is not Programmed (its controller has not seen generation 2 yet)",
		},
		{name: "another listener down", g: listenerDown, want: "http://10.0.0.1:80"},
		{name: "its listener down", g: listenerDown, o: Options{CAData: ca}, err: "gateway team/gw is Programmed but its listener https is not (Invalid: secret router-tls not found)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ep, err := GatewayEndpoint(tc.g, tc.o)
			got, gotErr, host := "", "", ""
			if ep != nil {
				got, host = ep.URL.String(), ep.Hostname
				if tc.wantListener != "" && ep.Listener != tc.wantListener {
					t.Errorf("listener %q, want %q", ep.Listener, tc.wantListener)
				}
			}
			if err != nil {
				gotErr = err.Error()
				var ge *GatewayError
				if !errors.As(err, &ge) || ge.NoListener != tc.noListener || ge.After != 0 {
					t.Errorf("%#v", err)
				}
			}
			if got != tc.want || gotErr != tc.err || host != tc.host {
				t.Errorf("got %q %q %q, want %q %q %q", got, host, gotErr, tc.want, tc.host, tc.err)
			}
		})
	}
}

func TestUsableAddress(t *testing.T) {
	for _, tc := range []struct {
		addr string
		want bool
	}{
		{"10.0.0.1", true},
		{"fd00::1", true},
		{"::ffff:10.0.0.1", true},
		{"gw.example.com", true},
		{"gw", true},
		{"a1.example.c0m", true},
		{"", false},
		{"1.2.3", false},          // a malformed IP, not a name
		{"10.0.0.256", false},     // likewise
		{"Gw.Example.com", false}, // not a DNS-1123 name
		{"gw.example.com:80", false},
		{"bad/host", false},
		{"user@gw", false},
		{"gw.example.com.", false},
		{"fe80::1%eth0", false},
	} {
		if got := usableAddress(tc.addr); got != tc.want {
			t.Errorf("usableAddress(%q) = %v, want %v", tc.addr, got, tc.want)
		}
	}
}

// gatewayClients returns clients holding gateways whose watches are
// FakeWatchers handed to the test once viaGateway has opened them, so the
// test drives every event itself.
func gatewayClients(t *testing.T, gateways ...*gatewayv1.Gateway) (*kube.Clients, *gatewayfake.Clientset, <-chan *watch.FakeWatcher) {
	t.Helper()
	// NewSimpleClientset: the field-managed tracker of NewClientset knows
	// no Gateway API types.
	gw := gatewayfake.NewSimpleClientset()
	for _, g := range gateways {
		// Created through the v1 client: the tracker would file an object
		// given to the constructor under v1beta1, whose Gateway is the same
		// Go type.
		if _, err := gw.GatewayV1().Gateways(g.Namespace).Create(context.Background(), g, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	gw.ClearActions()
	reactor, watchers := kubetest.DrivenWatches()
	gw.PrependWatchReactor("gateways", reactor)
	return &kube.Clients{Gateway: gw}, gw, watchers
}

// verbs lists the verbs of the recorded actions.
func verbs(actions []k8stesting.Action) []string {
	var out []string
	for _, a := range actions {
		out = append(out, a.GetVerb()+" "+a.GetNamespace()+"/"+a.GetResource().Resource)
	}
	return out
}

// TestOpenViaAnAddressedGateway: an addressed Gateway takes one GET, in the
// sandbox namespace unless another is given.
func TestOpenViaAnAddressedGateway(t *testing.T) {
	for _, tc := range []struct {
		name, gatewayNS string
		g               *gatewayv1.Gateway
		base, via       string
	}{
		{
			name: "in the sandbox namespace",
			g:    gateway([]string{"10.0.0.7"}, listener(gatewayv1.HTTPProtocolType, 80)),
			base: "http://10.0.0.7:80", via: "gateway team/gw at 10.0.0.7:80 (listener http)",
		},
		{
			name: "in its own namespace", gatewayNS: "infra",
			g: func() *gatewayv1.Gateway {
				g := gateway([]string{"gw.example.com"}, listener(gatewayv1.HTTPSProtocolType, 443))
				g.Namespace = "infra"
				return g
			}(),
			base: "https://gw.example.com:443", via: "gateway infra/gw at gw.example.com:443 (listener https)",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clients, fake, _ := gatewayClients(t, tc.g)
			conn, err := Open(context.Background(), clients, Options{Gateway: "gw", GatewayNamespace: tc.gatewayNS, GatewayTimeout: time.Minute}, "team")
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			if conn.BaseURL.String() != tc.base || conn.Via != tc.via {
				t.Errorf("base %q via %q; want %q, %q", conn.BaseURL, conn.Via, tc.base, tc.via)
			}
			if want := []string{"get " + tc.g.Namespace + "/gateways"}; !reflect.DeepEqual(verbs(fake.Actions()), want) {
				t.Errorf("actions %q, want %q", verbs(fake.Actions()), want)
			}
		})
	}
}

func TestGatewayLookupErrors(t *testing.T) {
	forbidden := apierrors.NewForbidden(gatewaysResource, "gw", errors.New("denied"))
	for _, tc := range []struct {
		name     string
		getErr   error
		err      string
		notFound bool
	}{
		{name: "missing", err: `gateway "gw" not found in namespace "team"`, notFound: true},
		{name: "forbidden", getErr: forbidden, err: `reading gateway team/gw: gateways.gateway.networking.k8s.io "gw" is forbidden: denied`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clients, fake, _ := gatewayClients(t)
			if tc.getErr != nil {
				fake.PrependReactor("get", "gateways", func(k8stesting.Action) (bool, runtime.Object, error) {
					return true, nil, tc.getErr
				})
			}
			_, err := Open(context.Background(), clients, Options{Gateway: "gw", GatewayTimeout: time.Minute}, "team")
			if err == nil || err.Error() != tc.err {
				t.Fatalf("error %v, want %q", err, tc.err)
			}
			var ge *GatewayError
			if got := errors.As(err, &ge) && ge.NotFound; got != tc.notFound {
				t.Errorf("GatewayError.NotFound %v, want %v", got, tc.notFound)
			}
		})
	}
}

type result struct {
	conn *Conn
	err  error
}

// openAsync runs Open in the background; the test drives the watch.
func openAsync(ctx context.Context, clients *kube.Clients, o Options) <-chan result {
	done := make(chan result, 1)
	go func() {
		conn, err := Open(ctx, clients, o, "team")
		done <- result{conn, err}
	}()
	return done
}

// TestGatewayGetsProgrammedWhileWaiting: a Gateway not yet Programmed, or
// without an address, is watched until it is both.
func TestGatewayGetsProgrammedWhileWaiting(t *testing.T) {
	http8080 := listener(gatewayv1.HTTPProtocolType, 8080)
	g := withProgrammed(gateway(nil, http8080), metav1.ConditionUnknown, "Pending", "Waiting for controller", 0)
	clients, _, watchers := gatewayClients(t, g)
	done := openAsync(context.Background(), clients, Options{Gateway: "gw", GatewayTimeout: time.Minute})
	w := <-watchers
	other := gateway([]string{"10.0.0.9"}, listener(gatewayv1.HTTPProtocolType, 80))
	other.Name = "other"
	w.Add(other)                                                                                               // another Gateway: not ours
	w.Modify(withProgrammed(gateway([]string{"10.0.0.8"}, http8080), metav1.ConditionFalse, "Invalid", "", 2)) // an address, not Programmed: keep waiting
	w.Modify(gateway(nil, http8080))                                                                           // Programmed, no address yet: keep waiting
	w.Modify(gateway([]string{"10.0.0.8"}, http8080))
	r := <-done
	if r.err != nil {
		t.Fatal(r.err)
	}
	defer r.conn.Close()
	if r.conn.BaseURL.String() != "http://10.0.0.8:8080" || r.conn.Via != "gateway team/gw at 10.0.0.8:8080 (listener http)" {
		t.Errorf("base %q via %q", r.conn.BaseURL, r.conn.Via)
	}
}

// TestGatewayWithoutTheListenerFailsAtOnce: no listener of the scheme
// needed is a fault of the Gateway's spec, which waiting does not mend: at
// the GET, or as soon as the watch sees it.
func TestGatewayWithoutTheListenerFailsAtOnce(t *testing.T) {
	tcp := listener(gatewayv1.TCPProtocolType, 80)
	want := "gateway team/gw has no HTTP or HTTPS listener"
	t.Run("at the get", func(t *testing.T) {
		clients, _, _ := gatewayClients(t, gateway([]string{"10.0.0.1"}, tcp))
		_, err := Open(context.Background(), clients, Options{Gateway: "gw", GatewayTimeout: time.Hour}, "team")
		if err == nil || err.Error() != want {
			t.Fatalf("error %v, want %q", err, want)
		}
	})
	t.Run("during the watch", func(t *testing.T) {
		clients, _, watchers := gatewayClients(t, gateway(nil, listener(gatewayv1.HTTPProtocolType, 80)))
		done := openAsync(context.Background(), clients, Options{Gateway: "gw", GatewayTimeout: time.Hour})
		(<-watchers).Modify(gateway(nil, tcp))
		if r := <-done; r.err == nil || r.err.Error() != want {
			t.Fatalf("error %v, want %q", r.err, want)
		}
	})
}

// TestGatewayDeletedWhileWaiting: a Gateway deleted while it has no
// address, or between the GET and the watch, is not found.
func TestGatewayDeletedWhileWaiting(t *testing.T) {
	g := gateway(nil, listener(gatewayv1.HTTPProtocolType, 80))
	want := `gateway "gw" not found in namespace "team"`
	t.Run("during the watch", func(t *testing.T) {
		clients, _, watchers := gatewayClients(t, g)
		done := openAsync(context.Background(), clients, Options{Gateway: "gw", GatewayTimeout: time.Minute})
		(<-watchers).Delete(g) // the Gateway went away: not found
		var ge *GatewayError
		if r := <-done; r.err == nil || r.err.Error() != want || !errors.As(r.err, &ge) || !ge.NotFound {
			t.Fatalf("error %v, want %q", r.err, want)
		}
	})
	t.Run("before the watch", func(t *testing.T) {
		clients, fake, _ := gatewayClients(t) // the list finds nothing
		fake.PrependReactor("get", "gateways", func(k8stesting.Action) (bool, runtime.Object, error) {
			return true, g.DeepCopy(), nil
		})
		_, err := Open(context.Background(), clients, Options{Gateway: "gw", GatewayTimeout: time.Minute}, "team")
		var ge *GatewayError
		if err == nil || err.Error() != want || !errors.As(err, &ge) || !ge.NotFound {
			t.Fatalf("error %v, want %q", err, want)
		}
	})
}

// TestGatewayTimeoutSaysWhatIsMissing: after GatewayTimeout the error says
// what the Gateway lacks, also when the watch itself cannot be opened. The
// Gateway never changes, so the short timeout decides nothing else.
func TestGatewayTimeoutSaysWhatIsMissing(t *testing.T) {
	forbidden := apierrors.NewForbidden(gatewaysResource, "", errors.New("denied"))
	for _, tc := range []struct {
		name     string
		g        *gatewayv1.Gateway
		listErr  error
		wantText string
	}{
		{
			name:     "no address",
			g:        gateway(nil, listener(gatewayv1.HTTPProtocolType, 80)),
			wantText: "gateway team/gw has no usable address after 50ms (status.addresses has no IP address or hostname yet)",
		},
		{
			name:     "not programmed",
			g:        withProgrammed(gateway([]string{"10.0.0.1"}, listener(gatewayv1.HTTPProtocolType, 80)), metav1.ConditionUnknown, "Pending", "Waiting for controller", 2),
			wantText: "gateway team/gw is not Programmed after 50ms (Pending: Waiting for controller)",
		},
		{
			name:     "the watch is forbidden",
			g:        gateway(nil, listener(gatewayv1.HTTPProtocolType, 80)),
			listErr:  forbidden,
			wantText: "gateway team/gw has no usable address after 50ms (status.addresses has no IP address or hostname yet)",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clients, fake, _ := gatewayClients(t, tc.g)
			if tc.listErr != nil {
				fake.PrependReactor("list", "gateways", func(k8stesting.Action) (bool, runtime.Object, error) {
					return true, nil, tc.listErr
				})
			}
			_, err := Open(context.Background(), clients, Options{Gateway: "gw", GatewayTimeout: 50 * time.Millisecond}, "team")
			if err == nil || err.Error() != tc.wantText {
				t.Fatalf("error %v, want %q", err, tc.wantText)
			}
			var ge *GatewayError
			if !errors.As(err, &ge) || ge.NotFound || ge.After != 50*time.Millisecond {
				t.Errorf("GatewayError %+v", ge)
			}
		})
	}
}

// TestGatewayWaitInterrupted: a caller that gives up while the Gateway has
// no address gets its context's error, not a timeout.
func TestGatewayWaitInterrupted(t *testing.T) {
	clients, _, watchers := gatewayClients(t, gateway(nil, listener(gatewayv1.HTTPProtocolType, 80)))
	ctx, cancel := context.WithCancel(context.Background())
	done := openAsync(ctx, clients, Options{Gateway: "gw", GatewayTimeout: time.Minute})
	<-watchers
	cancel()
	r := <-done
	if want := "waiting for gateway team/gw: context canceled"; r.err == nil || r.err.Error() != want || !errors.Is(r.err, context.Canceled) {
		t.Fatalf("error %v, want %q wrapping %v", r.err, want, context.Canceled)
	}
}

// TestGatewayListenerHostname: an https listener's hostname is the name
// the router's certificate is verified for, and the requests' Host, while
// they go to the Gateway's address.
func TestGatewayListenerHostname(t *testing.T) {
	srv, s := recordingRouter(t, true, http.StatusOK)
	u := mustURL(t, srv.URL)
	port, _ := strconv.Atoi(u.Port())
	for _, tc := range []struct {
		name     string
		hostname string
		host     string
		err      bool
	}{
		// The test certificate is for example.com and 127.0.0.1, not localhost.
		{name: "verified for the listener's hostname", hostname: "example.com", host: "example.com:" + u.Port()},
		{name: "verified for the address", err: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := listener(gatewayv1.HTTPSProtocolType, int32(port))
			if tc.hostname != "" {
				l = withHostname(l, tc.hostname)
			}
			clients, _, _ := gatewayClients(t, gateway([]string{"localhost"}, l))
			conn, err := Open(context.Background(), clients, Options{Gateway: "gw", GatewayTimeout: time.Minute, CAData: serverCA(srv)}, "team")
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			resp, err := (&http.Client{Transport: conn.Transport}).Get(conn.BaseURL.String() + "/healthz")
			var wrongHost x509.HostnameError
			if tc.err {
				if !errors.As(err, &wrongHost) {
					t.Fatalf("error %v, want a HostnameError", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if got := s.hosts[len(s.hosts)-1]; got != tc.host {
				t.Errorf("Host %q, want %q", got, tc.host)
			}
		})
	}
}
