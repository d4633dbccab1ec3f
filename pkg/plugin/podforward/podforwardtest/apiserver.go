// Package podforwardtest is an API server for tests that serves
// pods/portforward the way one behind a proxy that drops WebSocket upgrades
// does: the WebSocket attempt gets a 400, SPDY is accepted, and each data
// stream is handed to the test as a connection to the pod's port. A port
// the test refuses answers on the error stream, as a kubelet does when
// nothing listens on the pod's port. It also serves GET of one pod.
package podforwardtest

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"go.uber.org/goleak"

	corev1 "k8s.io/api/core/v1"
	streamhttp "k8s.io/streaming/pkg/httpstream"
	"k8s.io/streaming/pkg/httpstream/spdy"
)

// APIServer is the fake API server.
type APIServer struct {
	*httptest.Server
	// Ended receives a value each time an upgraded connection ends.
	Ended chan struct{}

	pod      func(port string, conn io.ReadWriter)
	mu       sync.Mutex
	requests []string
	// Refuse, if set, says what the kubelet reports for a connection to a
	// pod port ("" to serve it with pod).
	Refuse func(port string) string
	pod0   *corev1.Pod
}

// SetPod sets the pod a GET of pods/NAME returns (404 until set).
func (s *APIServer) SetPod(p *corev1.Pod) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pod0 = p
}

// NewAPIServer starts a server whose data streams are served by pod, with
// the pod port they go to; it is closed when the test ends.
func NewAPIServer(t testing.TB, pod func(port string, conn io.ReadWriter)) *APIServer {
	t.Helper()
	s := &APIServer{Ended: make(chan struct{}, 4), pod: pod}
	s.Server = httptest.NewServer(s)
	t.Cleanup(s.Close)
	return s
}

// Requests are the requests seen so far, as "METHOD PATH UPGRADE".
func (s *APIServer) Requests() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.requests...)
}

func (s *APIServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	upgrade := strings.ToLower(r.Header.Get("Upgrade"))
	s.mu.Lock()
	s.requests = append(s.requests, r.Method+" "+r.URL.Path+" "+upgrade)
	s.mu.Unlock()
	if r.Method == http.MethodGet && upgrade == "" {
		s.mu.Lock()
		pod := s.pod0
		s.mu.Unlock()
		if pod == nil || !strings.HasSuffix(r.URL.Path, "/pods/"+pod.Name) {
			http.Error(w, `{"kind":"Status","apiVersion":"v1","status":"Failure","reason":"NotFound","code":404}`, http.StatusNotFound)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(pod)
		return
	}
	if upgrade == "websocket" {
		http.Error(w, "websocket upgrades are refused here", http.StatusBadRequest)
		return
	}
	if _, err := streamhttp.Handshake(r, w, []string{"portforward.k8s.io"}); err != nil {
		return
	}
	var errStreams sync.Map // requestID -> the error stream of that connection
	conn := spdy.NewResponseUpgrader().UpgradeResponse(w, r, func(st streamhttp.Stream, replySent <-chan struct{}) error {
		h := st.Headers()
		if h.Get(corev1.StreamType) == corev1.StreamTypeError {
			errStreams.Store(h.Get(corev1.PortForwardRequestIDHeader), st)
		}
		go func() {
			<-replySent
			if h.Get(corev1.StreamType) != corev1.StreamTypeData {
				return // the error stream is closed with its data stream
			}
			port := h.Get(corev1.PortHeader)
			closeErr := func() {}
			es, ok := errStreams.LoadAndDelete(h.Get(corev1.PortForwardRequestIDHeader))
			if !replied(st) || (ok && !replied(es.(streamhttp.Stream))) {
				// The client's connection ended before the replies went
				// out: nothing more is written to it.
				_ = st.Reset()
				return
			}
			if ok {
				es := es.(streamhttp.Stream)
				closeErr = func() { _ = es.Close() }
				if s.Refuse != nil {
					if msg := s.Refuse(port); msg != "" {
						_, _ = io.WriteString(es, msg)
						closeErr()
						_ = st.Reset() // what the client sent is never read
						return
					}
				}
			}
			s.pod(port, st)
			closeErr()
			_ = st.Close()
			// What the client still sends is read until it closes its
			// end: spdystream's frame handler blocks on a data frame
			// nobody reads, and the connection could never end.
			_, _ = io.Copy(io.Discard, st)
		}()
		return nil
	})
	if conn == nil {
		return
	}
	<-conn.CloseChan()
	s.Ended <- struct{}{}
}

// replied says whether the reply to st, a stream the client opened, went
// out. spdystream sends it after the stream handler returns, and when that
// fails (the client closed its connection meanwhile) every later write on
// st, its Close included, waits forever for it; SendReply again returns at
// once when the reply was sent, and fails when it cannot be.
func replied(st streamhttp.Stream) bool {
	r, ok := st.(interface {
		SendReply(http.Header, bool) error
	})
	return !ok || r.SendReply(http.Header{}, false) == nil
}

// LeakOptions are the goroutine checks' exceptions for packages whose tests
// port-forward: client-go's PortForwarder handles each local connection in
// a goroutine that Close does not wait for. One whose forward is closed
// while it opens its streams waits up to 30 s for a reply that never comes
// (spdystream does not end the wait when the connection ends), then leaves
// its error-stream reader blocked forever (client-go v0.37.2,
// tools/portforward/portforward.go: errorChan is unbuffered).
func LeakOptions() []goleak.Option {
	return []goleak.Option{
		goleak.IgnoreAnyFunction("k8s.io/client-go/tools/portforward.(*PortForwarder).handleConnection"),
		goleak.IgnoreTopFunction("k8s.io/client-go/tools/portforward.(*PortForwarder).handleConnection.func1"),
	}
}
