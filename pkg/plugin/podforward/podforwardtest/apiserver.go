// Package podforwardtest is an API server for tests that serves
// pods/portforward the way one behind a proxy that drops WebSocket upgrades
// does: the WebSocket attempt gets a 400, SPDY is accepted, and each data
// stream is handed to the test as a connection to the pod's port.
package podforwardtest

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

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
	if upgrade == "websocket" {
		http.Error(w, "websocket upgrades are refused here", http.StatusBadRequest)
		return
	}
	if _, err := streamhttp.Handshake(r, w, []string{"portforward.k8s.io"}); err != nil {
		return
	}
	conn := spdy.NewResponseUpgrader().UpgradeResponse(w, r, func(st streamhttp.Stream, replySent <-chan struct{}) error {
		go func() {
			<-replySent
			defer st.Close()
			if st.Headers().Get(corev1.StreamType) == corev1.StreamTypeData { // the error stream reports nothing
				s.pod(st.Headers().Get(corev1.PortHeader), st)
			}
		}()
		return nil
	})
	if conn == nil {
		return
	}
	<-conn.CloseChan()
	s.Ended <- struct{}{}
}
