// Package podexectest is an API server for tests that serves pods/exec as
// a kubelet behind the API server does: over WebSocket (the v5 channel
// protocol) and, when the client falls back, SPDY (v4). Each exec's
// command is handed to the test with its streams, and its outcome goes
// back on the error channel as the kubelet words it (an exit code, or a
// message). Requests other than exec go to the next handler, if any (a
// podforwardtest.APIServer, for a pod that serves both).
package podexectest

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	remotecommandconsts "k8s.io/apimachinery/pkg/util/remotecommand"
	streamhttp "k8s.io/streaming/pkg/httpstream"
	"k8s.io/streaming/pkg/httpstream/spdy"
	"k8s.io/streaming/pkg/httpstream/wsstream"
)

// Exec is one exec, as the test's command sees it.
type Exec struct {
	Namespace, Pod, Container string
	Command                   []string
	Stdin                     io.Reader
	Stdout, Stderr            io.Writer
	// Context ends when the client's connection does.
	Context context.Context
}

// Run runs an exec's command and returns its exit code, or an error the
// runtime gives (a command that cannot start).
type Run func(e *Exec) (int, error)

// APIServer is the fake API server.
type APIServer struct {
	*httptest.Server
	// Ended receives a value each time an exec's stream has ended.
	Ended chan struct{}
	// NoWebSocket refuses WebSocket upgrades (400), as a proxy that drops
	// them does; clients fall back to SPDY.
	NoWebSocket atomic.Bool
	// Forbidden answers every exec 403, as RBAC does.
	Forbidden atomic.Bool

	run      Run
	next     http.Handler
	mu       sync.Mutex
	requests []string
}

// NewAPIServer starts a server whose execs run run; requests other than
// exec go to next (404 when nil). It is closed when the test ends.
func NewAPIServer(t testing.TB, run Run, next http.Handler) *APIServer {
	t.Helper()
	s := &APIServer{Ended: make(chan struct{}, 64), run: run, next: next}
	s.Server = httptest.NewServer(s)
	t.Cleanup(s.Close)
	return s
}

// Requests are the exec requests seen so far, as "METHOD PATH UPGRADE
// CONTAINER".
func (s *APIServer) Requests() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.requests...)
}

func (s *APIServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	// api v1 namespaces NS pods POD exec
	if len(parts) != 7 || parts[2] != "namespaces" || parts[4] != "pods" || parts[6] != "exec" {
		if s.next == nil {
			http.NotFound(w, r)
			return
		}
		s.next.ServeHTTP(w, r)
		return
	}
	q := r.URL.Query()
	upgrade := strings.ToLower(r.Header.Get("Upgrade"))
	s.mu.Lock()
	s.requests = append(s.requests, strings.Join([]string{r.Method, r.URL.Path, upgrade, q.Get("container")}, " "))
	s.mu.Unlock()
	if s.Forbidden.Load() {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusForbidden)
		_, _ = fmt.Fprintf(w, `{"kind":"Status","apiVersion":"v1","status":"Failure","reason":"Forbidden","code":403,`+
			`"message":"pods %q is forbidden: User \"dev\" cannot create resource \"pods/exec\" in API group \"\" in the namespace %q"}`, parts[5], parts[3])
		return
	}
	e := &Exec{Namespace: parts[3], Pod: parts[5], Container: q.Get("container"), Command: q["command"], Context: r.Context()}
	var streams *execStreams
	switch {
	case upgrade == "websocket" && s.NoWebSocket.Load():
		http.Error(w, "websocket upgrades are refused here", http.StatusBadRequest)
		return
	case upgrade == "websocket":
		streams = webSocketStreams(w, r)
	default:
		streams = spdyStreams(w, r)
	}
	if streams == nil {
		return
	}
	e.Stdin, e.Stdout, e.Stderr = streams.stdin, streams.stdout, streams.stderr
	code, err := s.run(e)
	streams.finish(code, err)
	s.Ended <- struct{}{}
}

// execStreams are an exec's streams, whichever the protocol.
type execStreams struct {
	stdin          io.Reader
	stdout, stderr io.WriteCloser
	errorStream    io.WriteCloser
	closeConn      func()
}

// finish closes the output, writes the outcome as the kubelet does (a
// v1 Status), and ends the connection.
func (e *execStreams) finish(code int, err error) {
	_ = e.stdout.Close()
	_ = e.stderr.Close()
	status := metav1.Status{Status: metav1.StatusSuccess}
	switch {
	case err != nil:
		status = metav1.Status{Status: metav1.StatusFailure, Reason: metav1.StatusReasonInternalError,
			Message: "error executing command in container: " + err.Error()}
	case code != 0:
		status = metav1.Status{
			Status: metav1.StatusFailure, Reason: remotecommandconsts.NonZeroExitCodeReason,
			Message: fmt.Sprintf("command terminated with non-zero exit code: exit status %d", code),
			Details: &metav1.StatusDetails{Causes: []metav1.StatusCause{{Type: remotecommandconsts.ExitCodeCauseType, Message: fmt.Sprint(code)}}},
		}
	}
	_ = json.NewEncoder(e.errorStream).Encode(status)
	_ = e.errorStream.Close()
	e.closeConn()
}

// webSocketStreams accepts the v5 channel protocol: stdin, stdout,
// stderr, error, resize.
func webSocketStreams(w http.ResponseWriter, r *http.Request) *execStreams {
	conn := wsstream.NewConn(map[string]wsstream.ChannelProtocolConfig{
		remotecommandconsts.StreamProtocolV5Name: {Binary: true, Channels: []wsstream.ChannelType{
			wsstream.ReadChannel, wsstream.WriteChannel, wsstream.WriteChannel, wsstream.WriteChannel, wsstream.IgnoreChannel,
		}},
	})
	_, streams, err := conn.Open(w, r)
	if err != nil {
		return nil
	}
	return &execStreams{stdin: streams[0], stdout: streams[1], stderr: streams[2], errorStream: streams[3], closeConn: func() { _ = conn.Close() }}
}

// spdyStreams accepts the v4 stream protocol: its four streams, named by
// their streamType header.
func spdyStreams(w http.ResponseWriter, r *http.Request) *execStreams {
	if _, err := streamhttp.Handshake(r, w, []string{remotecommandconsts.StreamProtocolV4Name}); err != nil {
		return nil
	}
	got := make(chan streamhttp.Stream, 8)
	conn := spdy.NewResponseUpgrader().UpgradeResponse(w, r, func(st streamhttp.Stream, _ <-chan struct{}) error {
		got <- st
		return nil
	})
	if conn == nil {
		return nil
	}
	byType := map[string]streamhttp.Stream{}
	timeout := time.After(10 * time.Second)
	for len(byType) < 4 {
		select {
		case st := <-got:
			byType[st.Headers().Get(corev1.StreamType)] = st
		case <-timeout:
			_ = conn.Close()
			return nil
		}
	}
	return &execStreams{
		stdin: byType[corev1.StreamTypeStdin], stdout: byType[corev1.StreamTypeStdout], stderr: byType[corev1.StreamTypeStderr],
		errorStream: byType[corev1.StreamTypeError], closeConn: func() { _ = conn.Close() },
	}
}
