package kube

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr/funcr"
	authzv1 "k8s.io/api/authorization/v1"
	authzclient "k8s.io/client-go/kubernetes/typed/authorization/v1"
	"k8s.io/client-go/rest"
	"k8s.io/klog/v2"

	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/kube/kubetest"
)

// TestRefused: a refusal that an access review confirms becomes a
// *ForbiddenError naming the subresource and the namespace; an allowed
// review, a review that fails, no reviewer or an ended context leave the
// error as it was.
func TestRefused(t *testing.T) {
	streamErr := errors.New("unable to upgrade connection: Forbidden")
	review := func(allowed bool, err error) (*Clients, *[]authzv1.ResourceAttributes) {
		cs, asked := kubetest.Reviewer(allowed, err)
		return &Clients{Authz: cs.AuthorizationV1()}, asked
	}
	for _, tc := range []struct {
		sub, want string
	}{
		{Exec, `exec into pod team/box-0 is forbidden: you may not create pods/exec in namespace "team"`},
		{PortForward, `port-forward to pod team/box-0 is forbidden: you may not create pods/portforward in namespace "team"`},
	} {
		c, asked := review(false, nil)
		err := Refused(context.Background(), c, "team", "box-0", tc.sub, streamErr)
		var forbidden *ForbiddenError
		if !errors.As(err, &forbidden) || err.Error() != tc.want || !errors.Is(err, streamErr) {
			t.Errorf("%s: %v, want %q wrapping the stream's error", tc.sub, err, tc.want)
		}
		want := []authzv1.ResourceAttributes{{Namespace: "team", Verb: "create", Resource: "pods", Subresource: tc.sub, Name: "box-0"}}
		if !reflect.DeepEqual(*asked, want) {
			t.Errorf("%s: asked %+v", tc.sub, *asked)
		}
	}
	allowed, _ := review(true, nil)
	failing, _ := review(false, errors.New("the server is down"))
	asking, asked := review(false, nil)
	ended, cancel := context.WithCancel(context.Background())
	cancel()
	for name, tc := range map[string]struct {
		ctx context.Context
		c   *Clients
	}{
		"allowed":       {context.Background(), allowed},
		"review failed": {context.Background(), failing},
		"no reviewer":   {context.Background(), &Clients{}},
		"ctx ended":     {ended, asking},
	} {
		if err := Refused(tc.ctx, tc.c, "team", "box-0", Exec, streamErr); !errors.Is(err, streamErr) || errors.Unwrap(err) != nil { // the very error, not wrapped
			t.Errorf("%s: %v, want the stream's error", name, err)
		}
	}
	if len(*asked) != 0 {
		t.Errorf("asked with an ended context: %+v", *asked)
	}
}

// TestRefusedCutShortSaysNothing: a review whose answer ctx cuts short
// (its headers came, its body did not) leaves the error as it was and
// writes no error line to the log; client-go's complaint is information
// at level 2.
func TestRefusedCutShortSaysNothing(t *testing.T) {
	headers := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		_, _ = w.Write([]byte(`{"kind":"SelfSubjectAccessReview",`))
		w.(http.Flusher).Flush()
		close(headers)
		<-r.Context().Done()
	}))
	defer srv.Close()
	authz, err := authzclient.NewForConfig(&rest.Config{Host: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	var mu sync.Mutex
	logger := funcr.New(func(prefix, args string) {
		mu.Lock()
		defer mu.Unlock()
		lines = append(lines, args)
	}, funcr.Options{Verbosity: 1})
	ctx, cancel := context.WithCancel(klog.NewContext(context.Background(), logger))
	go func() {
		<-headers
		time.Sleep(50 * time.Millisecond) // client-go is reading the body
		cancel()
	}()
	streamErr := errors.New("unable to upgrade connection: Forbidden")
	if err := Refused(ctx, &Clients{Authz: authz}, "team", "box-0", Exec, streamErr); !errors.Is(err, streamErr) || errors.Unwrap(err) != nil { // the very error, not wrapped
		t.Errorf("Refused: %v, want the stream's error", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(lines) != 0 {
		t.Errorf("logged %q", lines)
	}
}
