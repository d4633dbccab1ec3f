package podforward

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"

	"k8s.io/client-go/tools/portforward"

	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/podforward/podforwardtest"
)

// droppable serves api behind a server that hands the test each upgraded
// (hijacked) connection, so that the test can drop it as a failing API
// server or proxy would.
func droppable(t *testing.T, api *podforwardtest.APIServer) (string, <-chan net.Conn) {
	t.Helper()
	conns := make(chan net.Conn, 4)
	srv := httptest.NewUnstartedServer(api)
	srv.Config.ConnState = func(c net.Conn, s http.ConnState) {
		if s == http.StateHijacked {
			conns <- c
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	return srv.URL, conns
}

// listens says whether a local port still accepts connections.
func listens(port int) bool {
	c, err := net.Dial("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// TestWaitReturnsTheCauseWhenTheContextEnds: the forward serves while Wait
// blocks; when ctx ends, Wait closes the forward and returns ctx's cause.
func TestWaitReturnsTheCauseWhenTheContextEnds(t *testing.T) {
	srv, _ := echoServer(t)
	cfg, core := clientsFor(t, srv.URL)
	fw, err := Open(context.Background(), cfg, core, "team", "router-0", nil, []string{"0:8080"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	done := make(chan error, 1)
	go func() { done <- fw.Wait(ctx) }()
	if got := echo(t, fw.Local[0], "still here"); got != "still here" {
		t.Errorf("echoed %q while waiting", got)
	}
	interrupt := errors.New("interrupted by the user")
	cancel(interrupt)
	if err := <-done; !errors.Is(err, interrupt) || err.Error() != interrupt.Error() {
		t.Fatalf("Wait returned %v, want the context's cause %v", err, interrupt)
	}
	if listens(fw.Local[0]) {
		t.Errorf("local port %d still listens after Wait returned", fw.Local[0])
	}
	<-srv.Ended // the upgraded connection ends
	fw.Close()  // a no-op now
	if err := fw.Wait(context.Background()); err == nil || err.Error() != "the port-forward is closed" {
		t.Errorf("a second Wait returned %v", err)
	}
}

// TestWaitReportsALostConnection: when the API server side drops the
// upgraded connection, Wait returns a *LostError naming the pod, and the
// forward is down.
func TestWaitReportsALostConnection(t *testing.T) {
	api, _ := echoServer(t)
	url, conns := droppable(t, api)
	cfg, core := clientsFor(t, url)
	fw, err := Open(context.Background(), cfg, core, "team", "router-0", nil, []string{"0:8080"})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- fw.Wait(context.Background()) }()
	(<-conns).Close() // the API server drops the connection
	err = <-done
	var lost *LostError
	if !errors.As(err, &lost) || lost.Namespace != "team" || lost.Pod != "router-0" {
		t.Fatalf("Wait returned %v, want a *LostError", err)
	}
	if !errors.Is(err, portforward.ErrLostConnectionToPod) {
		t.Errorf("error %v does not unwrap to %v", err, portforward.ErrLostConnectionToPod)
	}
	if want := "lost the port-forward to pod team/router-0: lost connection to pod"; err.Error() != want {
		t.Errorf("error %q, want %q", err, want)
	}
	if listens(fw.Local[0]) {
		t.Errorf("local port %d still listens after the forward was lost", fw.Local[0])
	}
	<-api.Ended
	fw.Close() // a no-op now
	if err := fw.Wait(context.Background()); err == nil || err.Error() != "the port-forward is closed" {
		t.Errorf("Wait on a lost forward returned %v", err)
	}
}

func TestWaitOnAClosedForward(t *testing.T) {
	srv, _ := echoServer(t)
	cfg, core := clientsFor(t, srv.URL)
	fw, err := Open(context.Background(), cfg, core, "team", "router-0", nil, []string{"0:8080"})
	if err != nil {
		t.Fatal(err)
	}
	fw.Close()
	<-srv.Ended
	if err := fw.Wait(context.Background()); err == nil || err.Error() != "the port-forward is closed" {
		t.Errorf("Wait returned %v, want that the forward is closed", err)
	}
	var zero Forward
	if err := zero.Wait(context.Background()); err == nil || err.Error() != "the port-forward is closed" {
		t.Errorf("Wait on a zero Forward returned %v", err)
	}
}

func TestLostErrorWithoutACause(t *testing.T) {
	err := &LostError{Namespace: "team", Pod: "router-0"}
	if err.Error() != "lost the port-forward to pod team/router-0" || errors.Unwrap(err) != nil {
		t.Errorf("%q, unwraps to %v", err, errors.Unwrap(err))
	}
}
