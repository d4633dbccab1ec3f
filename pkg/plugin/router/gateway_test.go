package router

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
	k8stesting "k8s.io/client-go/testing"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
	gatewayfake "sigs.k8s.io/gateway-api/pkg/client/clientset/versioned/fake"

	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/kube"

	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/kube/kubetest"
)

var gatewaysResource = schema.GroupResource{Group: "gateway.networking.k8s.io", Resource: "gateways"}

// gateway is Gateway "gw" in namespace "team".
func gateway(addrs []string, listeners ...gatewayv1.Listener) *gatewayv1.Gateway {
	g := &gatewayv1.Gateway{
		ObjectMeta: metav1.ObjectMeta{Name: "gw", Namespace: "team"},
		Spec:       gatewayv1.GatewaySpec{Listeners: listeners},
	}
	for _, a := range addrs {
		g.Status.Addresses = append(g.Status.Addresses, gatewayv1.GatewayStatusAddress{Value: a})
	}
	return g
}

func listener(proto gatewayv1.ProtocolType, port int32) gatewayv1.Listener {
	return gatewayv1.Listener{Name: "l", Protocol: proto, Port: port}
}

func TestGatewayURL(t *testing.T) {
	for _, tc := range []struct {
		name    string
		g       *gatewayv1.Gateway
		want    string
		problem string
	}{
		{"http on 80", gateway([]string{"10.1.2.3"}, listener(gatewayv1.HTTPProtocolType, 80)), "http://10.1.2.3:80", ""},
		{"first http or https listener", gateway([]string{"gw.example.com"}, listener(gatewayv1.TCPProtocolType, 9000), listener(gatewayv1.HTTPSProtocolType, 8443), listener(gatewayv1.HTTPProtocolType, 80)), "https://gw.example.com:8443", ""},
		{"ipv6", gateway([]string{"fd00::1"}, listener(gatewayv1.HTTPProtocolType, 8080)), "http://[fd00::1]:8080", ""},
		{"first usable address", gateway([]string{"", "1.2.3", "bad/host", "10.0.0.9", "10.0.0.10"}, listener(gatewayv1.HTTPProtocolType, 80)), "http://10.0.0.9:80", ""},
		{"no address", gateway(nil, listener(gatewayv1.HTTPProtocolType, 80)), "", "status.addresses has no IP address or hostname yet"},
		{"no usable address", gateway([]string{"Not_A_Host"}, listener(gatewayv1.HTTPProtocolType, 80)), "", "status.addresses has no IP address or hostname yet"},
		{"no http listener", gateway([]string{"10.0.0.1"}, listener(gatewayv1.TCPProtocolType, 80)), "", "it has no HTTP or HTTPS listener"},
		{"no listener", gateway([]string{"10.0.0.1"}), "", "it has no HTTP or HTTPS listener"},
	} {
		u, problem := gatewayURL(tc.g)
		got := ""
		if u != nil {
			got = u.String()
		}
		if got != tc.want || problem != tc.problem {
			t.Errorf("%s: got %q %q, want %q %q", tc.name, got, problem, tc.want, tc.problem)
		}
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
			base: "http://10.0.0.7:80", via: "gateway team/gw at 10.0.0.7:80",
		},
		{
			name: "in its own namespace", gatewayNS: "infra",
			g: func() *gatewayv1.Gateway {
				g := gateway([]string{"gw.example.com"}, listener(gatewayv1.HTTPSProtocolType, 443))
				g.Namespace = "infra"
				return g
			}(),
			base: "https://gw.example.com:443", via: "gateway infra/gw at gw.example.com:443",
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

// TestGatewayGetsAnAddressWhileWaiting: a Gateway without an address is
// watched until it has one.
func TestGatewayGetsAnAddressWhileWaiting(t *testing.T) {
	g := gateway(nil, listener(gatewayv1.HTTPProtocolType, 8080))
	clients, _, watchers := gatewayClients(t, g)
	done := openAsync(context.Background(), clients, Options{Gateway: "gw", GatewayTimeout: time.Minute})
	w := <-watchers
	other := gateway([]string{"10.0.0.9"}, listener(gatewayv1.HTTPProtocolType, 80))
	other.Name = "other"
	w.Add(other)                            // another Gateway: not ours
	w.Modify(gateway([]string{"10.0.0.8"})) // an address, but no HTTP listener yet: keep waiting
	w.Modify(gateway([]string{"10.0.0.8"}, listener(gatewayv1.HTTPProtocolType, 8080)))
	r := <-done
	if r.err != nil {
		t.Fatal(r.err)
	}
	defer r.conn.Close()
	if r.conn.BaseURL.String() != "http://10.0.0.8:8080" || r.conn.Via != "gateway team/gw at 10.0.0.8:8080" {
		t.Errorf("base %q via %q", r.conn.BaseURL, r.conn.Via)
	}
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
			name:     "no http listener",
			g:        gateway([]string{"10.0.0.1"}, listener(gatewayv1.TLSProtocolType, 443)),
			wantText: "gateway team/gw has no usable address after 50ms (it has no HTTP or HTTPS listener)",
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
