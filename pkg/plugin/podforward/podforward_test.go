package podforward

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/rest"
	streamhttp "k8s.io/streaming/pkg/httpstream"
	"k8s.io/streaming/pkg/httpstream/spdy"
)

// apiServer serves pods/portforward as an API server behind a proxy that
// refuses WebSocket upgrades does: the WebSocket attempt gets a 400, the
// SPDY one is accepted, and every data stream is echoed back.
type apiServer struct {
	*httptest.Server
	mu       sync.Mutex
	requests []string
	// ports receives the port header of each data stream.
	ports chan string
	// ended receives a value each time an upgraded connection ends.
	ended chan struct{}
}

func newAPIServer(t *testing.T) *apiServer {
	t.Helper()
	s := &apiServer{ports: make(chan string, 4), ended: make(chan struct{}, 4)}
	s.Server = httptest.NewServer(s)
	t.Cleanup(s.Close)
	return s
}

func (s *apiServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	upgrade := strings.ToLower(r.Header.Get("Upgrade"))
	s.mu.Lock()
	s.requests = append(s.requests, r.Method+" "+r.URL.Path+" "+upgrade)
	s.mu.Unlock()
	if upgrade == "websocket" {
		http.Error(w, "websocket upgrades are refused here", http.StatusBadRequest)
		return
	}
	if _, err := streamhttp.Handshake(r, w, []string{"portforward.k8s.io"}); err != nil {
		return
	}
	conn := spdy.NewResponseUpgrader().UpgradeResponse(w, r, s.stream)
	if conn == nil {
		return
	}
	<-conn.CloseChan()
	s.ended <- struct{}{}
}

// stream serves one stream the client opens: the error stream is closed at
// once (no error), a data stream echoes what it reads.
func (s *apiServer) stream(st streamhttp.Stream, replySent <-chan struct{}) error {
	go func() {
		<-replySent
		defer st.Close()
		if st.Headers().Get(corev1.StreamType) != corev1.StreamTypeData {
			return
		}
		s.ports <- st.Headers().Get(corev1.PortHeader)
		_, _ = io.Copy(st, st)
	}()
	return nil
}

func (s *apiServer) seen() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.requests...)
}

// clientsFor returns the config and core client of an API server at url.
func clientsFor(t *testing.T, url string) (*rest.Config, corev1client.CoreV1Interface) {
	t.Helper()
	cfg := &rest.Config{Host: url}
	core, err := corev1client.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return cfg, core
}

// echo sends msg through a local port and returns what comes back.
func echo(t *testing.T, port int, msg string) string {
	t.Helper()
	c, err := net.Dial("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := io.WriteString(c, msg); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, len(msg))
	if _, err := io.ReadFull(c, buf); err != nil {
		t.Fatal(err)
	}
	return string(buf)
}

// TestOpenForwardsEachPortToThePod: WebSocket is tried first, SPDY is the
// fallback, with no addresses the forward listens on 127.0.0.1, and each
// local port reaches its own pod port.
func TestOpenForwardsEachPortToThePod(t *testing.T) {
	srv := newAPIServer(t)
	cfg, core := clientsFor(t, srv.URL)
	fw, err := Open(context.Background(), cfg, core, "team", "router-0", nil, []string{"0:8080", "0:9090"})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if len(fw.Local) != 2 || fw.Local[0] == 0 || fw.Local[1] == 0 || fw.Local[0] == fw.Local[1] {
		t.Fatalf("local ports %v", fw.Local)
	}
	for i, remote := range []string{"8080", "9090"} {
		msg := "hello " + remote
		if got := echo(t, fw.Local[i], msg); got != msg {
			t.Errorf("port %s echoed %q, want %q", remote, got, msg)
		}
		if got := <-srv.ports; got != remote {
			t.Errorf("local port %d reached pod port %s, want %s", fw.Local[i], got, remote)
		}
	}
	fw.Close()
	// Close returns once the forward is down: its ports no longer listen.
	for _, p := range fw.Local {
		if c, err := net.Dial("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p))); err == nil {
			c.Close()
			t.Errorf("local port %d still listens after Close", p)
		}
	}
	<-srv.ended // the upgraded connection ends
	fw.Close()  // Close is idempotent
	path := "/api/v1/namespaces/team/pods/router-0/portforward"
	if want := []string{"GET " + path + " websocket", "POST " + path + " spdy/3.1"}; !reflect.DeepEqual(srv.seen(), want) {
		t.Errorf("requests %q, want %q", srv.seen(), want)
	}
}

// TestOpenFailsWhenTheLocalPortIsTaken: the forward is up on the server
// side but cannot listen; Open says so, names the pod, and tears it down.
func TestOpenFailsWhenTheLocalPortIsTaken(t *testing.T) {
	srv := newAPIServer(t)
	cfg, core := clientsFor(t, srv.URL)
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	port := taken.Addr().(*net.TCPAddr).Port
	_, err = Open(context.Background(), cfg, core, "team", "router-0", nil, []string{fmt.Sprintf("%d:8080", port)})
	want := fmt.Sprintf("port-forward to pod team/router-0: unable to listen on any of the requested ports: [{%d 8080}]", port)
	if err == nil || err.Error() != want {
		t.Fatalf("error %v, want %q", err, want)
	}
	<-srv.ended
}

func TestOpenErrors(t *testing.T) {
	forbidden := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusForbidden)
		fmt.Fprint(w, `{"kind":"Status","apiVersion":"v1","status":"Failure","message":"pods \"router-0\" is forbidden: User \"alice\" cannot create resource \"pods/portforward\"","reason":"Forbidden","code":403}`)
	}))
	defer forbidden.Close()
	for _, tc := range []struct {
		name      string
		cfg       *rest.Config
		addresses []string
		ports     []string
		want      string
	}{
		{
			name:  "the API server refuses both upgrades",
			cfg:   &rest.Config{Host: forbidden.URL},
			ports: []string{"0:8080"},
			want:  `port-forward to pod team/router-0: error upgrading connection: unable to upgrade connection: pods "router-0" is forbidden: User "alice" cannot create resource "pods/portforward"`,
		},
		{
			name:  "a port spec that is not a number",
			cfg:   &rest.Config{Host: forbidden.URL},
			ports: []string{"0:http"},
			want:  `error parsing remote port 'http': strconv.ParseUint: parsing "http": invalid syntax`,
		},
		{
			name:      "an address that is not an IP",
			cfg:       &rest.Config{Host: forbidden.URL},
			addresses: []string{"router.example.com"},
			ports:     []string{"0:8080"},
			want:      `router.example.com is not a valid IP`,
		},
		{
			name:  "a config whose CA cannot be loaded",
			cfg:   &rest.Config{Host: "https://127.0.0.1:1", TLSClientConfig: rest.TLSClientConfig{CAData: []byte("not a PEM block")}},
			ports: []string{"0:8080"},
			want:  `unable to load root certificates: unable to parse bytes as PEM block`,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			core, err := corev1client.NewForConfig(&rest.Config{Host: forbidden.URL})
			if err != nil {
				t.Fatal(err)
			}
			fw, err := Open(context.Background(), tc.cfg, core, "team", "router-0", tc.addresses, tc.ports)
			if err == nil || err.Error() != tc.want {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
			if fw != nil {
				t.Errorf("a failed Open returned a forward: %+v", fw)
			}
		})
	}
}

// TestOpenReturnsWhenTheContextIsCancelled: a caller interrupted while the
// upgrade is under way gets its context's error at once, even from a server
// that never answers the upgrade; the forward's goroutine ends when the
// upgrade does (goleak checks that).
func TestOpenReturnsWhenTheContextIsCancelled(t *testing.T) {
	arrived := make(chan struct{}, 2)
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		arrived <- struct{}{}
		<-release
		http.Error(w, "no", http.StatusForbidden)
	}))
	defer srv.Close()
	cfg, core := clientsFor(t, srv.URL)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	done := make(chan error, 1)
	go func() {
		_, err := Open(ctx, cfg, core, "team", "router-0", nil, []string{"0:8080"})
		done <- err
	}()
	<-arrived // the upgrade is in flight, and stays so until released
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("error %v, want %v", err, context.Canceled)
		}
	case <-time.After(30 * time.Second): // bounds a failure only
		t.Error("Open waited for the upgrade after its context was cancelled")
	}
	close(release)
}
