package claims

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"k8s.io/client-go/rest"

	extclient "sigs.k8s.io/agent-sandbox/clients/k8s/extensions/clientset/versioned"
)

// deleteServer answers a claim's DELETE with answer and serves a watch
// that reports the claim deleted; it records the requests.
func deleteServer(t *testing.T, answer string) (extclient.Interface, func() []string) {
	t.Helper()
	var mu sync.Mutex
	var seen []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Method+" "+r.URL.Path+"?"+r.URL.RawQuery)
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		switch {
		case r.Method == http.MethodDelete:
			_, _ = w.Write([]byte(answer))
		case r.URL.Query().Get("watch") == "true":
			ev := map[string]any{"type": "DELETED", "object": json.RawMessage(`{"apiVersion":"extensions.agents.x-k8s.io/v1beta1","kind":"SandboxClaim","metadata":{"name":"c","namespace":"ns","resourceVersion":"43"}}`)}
			_ = json.NewEncoder(w).Encode(ev)
		default:
			http.Error(w, "unexpected", http.StatusTeapot)
		}
	}))
	t.Cleanup(srv.Close)
	client, err := extclient.NewForConfig(&rest.Config{Host: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	return client, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), seen...)
	}
}

const claimJSON = `{"apiVersion":"extensions.agents.x-k8s.io/v1beta1","kind":"SandboxClaim","metadata":{"name":"c","namespace":"ns","resourceVersion":"42"%s},"spec":{"warmPoolRef":{"name":"p"}}}`

func TestDeleteOneReadsTheAnswer(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name, answer string
		gone         bool
		rv           string
	}{
		{"status", `{"apiVersion":"v1","kind":"Status","status":"Success"}`, true, ""},
		{"deleted object", fmt.Sprintf(claimJSON, ""), true, "42"},
		{"held by a finalizer", fmt.Sprintf(claimJSON, `,"finalizers":["x/y"],"deletionTimestamp":"2026-01-01T00:00:00Z"`), false, "42"},
	} {
		client, seen := deleteServer(t, tc.answer)
		gone, rv, err := DeleteOne(ctx, client, "ns", "c", false)
		if err != nil || gone != tc.gone || rv != tc.rv {
			t.Errorf("%s: DeleteOne = %v, %q, %v; want %v, %q", tc.name, gone, rv, err, tc.gone, tc.rv)
		}
		if got := seen(); len(got) != 1 || !strings.HasPrefix(got[0], "DELETE /apis/extensions.agents.x-k8s.io/v1beta1/namespaces/ns/sandboxclaims/c") {
			t.Errorf("%s: requests %q", tc.name, got)
		}
	}
}

// TestDeleteAllWaitsFromTheAnswer: a claim the DELETE shows gone is not
// waited for; one held by a finalizer is watched from the answer's
// resourceVersion, with no list.
func TestDeleteAllWaitsFromTheAnswer(t *testing.T) {
	ctx := context.Background()
	client, seen := deleteServer(t, fmt.Sprintf(claimJSON, ""))
	if _, err := DeleteAll(ctx, client, "ns", []string{"c"}, DeleteOptions{Wait: true, Timeout: 5 * time.Second}); err != nil {
		t.Fatal(err)
	}
	if got := seen(); len(got) != 1 {
		t.Errorf("gone at once, yet: %q", got)
	}
	client, seen = deleteServer(t, fmt.Sprintf(claimJSON, `,"finalizers":["x/y"],"deletionTimestamp":"2026-01-01T00:00:00Z"`))
	if _, err := DeleteAll(ctx, client, "ns", []string{"c"}, DeleteOptions{Wait: true, Timeout: 5 * time.Second}); err != nil {
		t.Fatal(err)
	}
	got := seen()
	if len(got) != 2 || !strings.Contains(got[1], "watch=true") || !strings.Contains(got[1], "resourceVersion=42") {
		t.Errorf("requests %q: want the DELETE, then a watch from resourceVersion 42", got)
	}
}
