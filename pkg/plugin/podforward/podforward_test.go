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
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/rest"

	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/podforward/podforwardtest"
)

// echoServer is an API server whose pod echoes every stream; ports
// receives the pod port of each.
func echoServer(t *testing.T) (*podforwardtest.APIServer, chan string) {
	ports := make(chan string, 4)
	return podforwardtest.NewAPIServer(t, func(port string, conn io.ReadWriter) {
		ports <- port
		_, _ = io.Copy(conn, conn)
	}), ports
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
	srv, ports := echoServer(t)
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
		if got := <-ports; got != remote {
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
	<-srv.Ended // the upgraded connection ends
	fw.Close()  // Close is idempotent
	path := "/api/v1/namespaces/team/pods/router-0/portforward"
	if want := []string{"GET " + path + " websocket", "POST " + path + " spdy/3.1"}; !reflect.DeepEqual(srv.Requests(), want) {
		t.Errorf("requests %q, want %q", srv.Requests(), want)
	}
}

// TestOpenFailsWhenTheLocalPortIsTaken: the forward is up on the server
// side but cannot listen; Open says so, names the pod, and tears it down.
func TestOpenFailsWhenTheLocalPortIsTaken(t *testing.T) {
	srv, _ := echoServer(t)
	cfg, core := clientsFor(t, srv.URL)
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	port := taken.Addr().(*net.TCPAddr).Port
	_, err = Open(context.Background(), cfg, core, "team", "router-0", nil, []string{fmt.Sprintf("%d:8080", port)})
	want := fmt.Sprintf("port-forward to pod team/router-0: Unable to listen on port %d: Listeners failed to create with the following errors: [unable to create listener: Error listen tcp4 127.0.0.1:%d: bind: address already in use]", port, port)
	if err == nil || err.Error() != want {
		t.Fatalf("error %v, want %q", err, want)
	}
	<-srv.Ended
}

// TestOpenFailsWhenOneOfTheLocalPortsIsTaken: client-go goes on with the
// ports it could listen on; Open does not.
func TestOpenFailsWhenOneOfTheLocalPortsIsTaken(t *testing.T) {
	srv, _ := echoServer(t)
	cfg, core := clientsFor(t, srv.URL)
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	port := taken.Addr().(*net.TCPAddr).Port
	_, err = Open(context.Background(), cfg, core, "team", "router-0", nil, []string{"0:8081", fmt.Sprintf("%d:8080", port)})
	want := fmt.Sprintf("port-forward to pod team/router-0: Unable to listen on port %d: ", port)
	if err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Fatalf("error %v, want %q...", err, want)
	}
	<-srv.Ended
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

// TestKeepForwardsAgainWhileThePodRuns: a connection the pod refuses (as a
// kubelet reports one to a port nothing listens on) makes client-go end the
// whole forward; Keep opens it again on the same local port and says so,
// and the next connection goes through. Once the pod is replaced (another
// UID), a lost forward ends Keep with a *LostError.
func TestKeepForwardsAgainWhileThePodRuns(t *testing.T) {
	srv, _ := echoServer(t)
	var refuse atomic.Bool
	srv.Refuse = func(string) string {
		if refuse.Load() {
			return "failed to connect to localhost:9999 inside namespace: connection refused"
		}
		return ""
	}
	srv.SetPod(&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns", UID: "uid-1"}, Status: corev1.PodStatus{Phase: corev1.PodRunning}})
	cfg, core := clientsFor(t, srv.URL)
	f, err := Open(context.Background(), cfg, core, "ns", "p", nil, []string{"0:9999"})
	if err != nil {
		t.Fatal(err)
	}
	local := f.Local[0]
	lost := make(chan error, 4)
	done := make(chan error, 1)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { done <- Keep(ctx, cfg, core, f, nil, []int{9999}, func(err error) { lost <- err }) }()

	refuse.Store(true)
	refused(t, local)
	var le *LostError
	if err := <-lost; !errors.As(err, &le) || le.Pod != "p" {
		t.Fatalf("onLost got %v", err)
	}
	refuse.Store(false)
	// The forward listens again on the same port (a connection made before
	// it does is refused locally).
	var got string
	for deadline := time.Now().Add(10 * time.Second); got == "" && time.Now().Before(deadline); {
		got = tryEcho(local, "again")
	}
	if got != "again" {
		t.Fatalf("echo after the forward was opened again: %q", got)
	}

	srv.SetPod(&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns", UID: "uid-2"}, Status: corev1.PodStatus{Phase: corev1.PodRunning}})
	refuse.Store(true)
	refused(t, local)
	if err := <-done; !errors.As(err, &le) {
		t.Fatalf("Keep ended with %v, want a *LostError", err)
	}
	if len(lost) != 0 {
		t.Errorf("onLost heard of the last loss too: %v", <-lost)
	}
	for range 2 { // both upgraded connections end on the server too
		<-srv.Ended
	}
}

// refused makes a connection to the local port that the pod refuses: it is
// closed with nothing read.
func refused(t *testing.T, port int) {
	t.Helper()
	c, err := net.Dial("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, _ = io.WriteString(c, "x")
	if n, _ := io.ReadFull(c, make([]byte, 1)); n != 0 {
		t.Fatalf("read %d bytes through a refused connection", n)
	}
}

// tryEcho is echo for a port that may not listen yet: "" when the
// connection is refused.
func tryEcho(port int, msg string) string {
	c, err := net.Dial("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		return ""
	}
	defer c.Close()
	if _, err := io.WriteString(c, msg); err != nil {
		return ""
	}
	buf := make([]byte, len(msg))
	if _, err := io.ReadFull(c, buf); err != nil {
		return ""
	}
	return string(buf)
}
