package router

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/rest"

	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/kube"
	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/sandbox"
)

func TestRefusedErrorSaysWhatWasPresented(t *testing.T) {
	scope := &Scope{Namespace: "team", Name: "sb-1"}
	for _, tc := range []struct {
		status int
		detail string
		c      Credential
		sent   bool
		want   string
	}{
		{401, "unauthenticated", Credential{Identity: IdentityToken, WithheldFrom: "10.96.0.10:8080"}, false,
			"execute: the sandbox router asks for a bearer token (HTTP 401: unauthenticated) and none was sent: your kubeconfig's token is not sent over plain http to 10.96.0.10:8080"},
		{401, "unauthenticated", Credential{Identity: IdentityClientCert}, false,
			"execute: the sandbox router asks for a bearer token (HTTP 401: unauthenticated) and none was sent: your kubeconfig's identity is a client certificate, which cannot be sent to the router"},
		{401, "unauthenticated", Credential{Identity: IdentityBasic}, false,
			"execute: the sandbox router asks for a bearer token (HTTP 401: unauthenticated) and none was sent: your kubeconfig's identity is a username and password, which cannot be sent to the router"},
		{401, "", Credential{}, false,
			"execute: the sandbox router asks for a bearer token (HTTP 401: Unauthorized) and none was sent: your kubeconfig has no credentials"},
		{401, "unauthenticated", Credential{Presents: PresentKubeconfig, Identity: IdentityExec}, false,
			"execute: the sandbox router asks for a bearer token (HTTP 401: unauthenticated) and none was sent: your kubeconfig's exec credential plugin gave none"},
		{401, "unauthenticated", Credential{Presents: PresentKubeconfig, Identity: IdentityAuthProvider}, false,
			"execute: the sandbox router asks for a bearer token (HTTP 401: unauthenticated) and none was sent: your kubeconfig's auth provider gave none"},
		{401, "unauthenticated", Credential{Presents: PresentKubeconfig, Identity: IdentityExec}, true,
			"execute: the sandbox router refused your kubeconfig's bearer token (HTTP 401: unauthenticated)"},
		{401, "Invalid token.", Credential{Presents: PresentToken}, true,
			"execute: the sandbox router refused the router token (HTTP 401: Invalid token.)"},
		{401, "unauthenticated", Credential{Presents: PresentScoped, Scope: scope}, true,
			"execute: the sandbox router refused the scoped token (HTTP 401: unauthenticated)"},
		{403, "forbidden", Credential{Presents: PresentScoped, Scope: scope}, true,
			"execute: the sandbox router refused the scoped token for sandbox team/sb-1 access to sandbox team/sb-2 (HTTP 403: forbidden)"},
		{403, "forbidden", Credential{Presents: PresentScoped, Scope: &Scope{Namespace: "team", Name: "sb-2"}}, true,
			"execute: the sandbox router refused the scoped token for sandbox team/sb-2 (HTTP 403: forbidden)"},
		{403, "forbidden", Credential{Presents: PresentScoped}, true,
			"execute: the sandbox router refused access to sandbox team/sb-2 (HTTP 403: forbidden)"},
		{403, "forbidden", Credential{Presents: PresentKubeconfig, Identity: IdentityToken}, true,
			"execute: the sandbox router refused access to sandbox team/sb-2 (HTTP 403: forbidden)"},
	} {
		e := &RefusedError{Err: &sandbox.HTTPError{Op: "execute", Status: tc.status, Detail: tc.detail, Sandbox: "sb-2"}, Namespace: "team", Credential: tc.c, Sent: tc.sent}
		if got := e.Error(); got != tc.want {
			t.Errorf("got  %s\nwant %s", got, tc.want)
		}
		var he *sandbox.HTTPError
		if !errors.As(e, &he) || he.Status != tc.status {
			t.Errorf("%v does not wrap the HTTP error", e)
		}
	}
}

// TestExplainTheRoutersAnswers: through a fake router in each mode, the
// router's 401 and 403 become *RefusedError naming what was sent; other
// answers, and the runtime's own, stay as they were; the token sent never
// reaches a message, even when the answer repeats it.
func TestExplainTheRoutersAnswers(t *testing.T) {
	const kubeToken = "kube-t0ken-value"
	for _, tc := range []struct {
		name    string
		status  int
		body    string
		o       Options
		noKube  bool
		refused bool
		sent    bool
		detail  string
	}{
		{name: "tokenreview refuses the kubeconfig's token", status: 401, body: `{"detail":"unauthenticated"}`, refused: true, sent: true, detail: "unauthenticated"},
		{name: "tokenreview refuses a request without one", status: 401, body: `{"detail":"unauthenticated"}`, noKube: true, refused: true, detail: "unauthenticated"},
		{name: "scoped-token refuses another sandbox", status: 403, body: `{"detail":"forbidden"}`, o: Options{Token: "v1.eyJucyI6InRlYW0iLCJuYW1lIjoic2ItMSIsImV4cCI6OTk5OTk5OTk5OX0.sig"}, refused: true, sent: true, detail: "forbidden"},
		{name: "an answer that repeats the token", status: 401, body: `{"detail":"bad token ` + kubeToken + `"}`, refused: true, sent: true, detail: "bad token [redacted]"},
		{name: "a 502 that repeats the token", status: 502, body: `{"detail":"upstream saw ` + kubeToken + `"}`, sent: true, detail: "upstream saw [redacted]"},
		{name: "the runtime's own 403", status: 403, body: `{"message":"outside /app"}`, sent: true, detail: "outside /app"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				w.WriteHeader(tc.status)
				_, _ = io.WriteString(w, tc.body)
			}))
			defer srv.Close()
			tc.o.URL = mustURL(t, srv.URL)
			cfg := &rest.Config{BearerToken: kubeToken}
			if tc.noKube {
				cfg = &rest.Config{}
			}
			conn, err := Open(context.Background(), &kube.Clients{Config: cfg}, tc.o, "team")
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			req, _ := http.NewRequest(http.MethodPost, srv.URL+"/execute", nil)
			req.Header.Set("X-Sandbox-ID", "sb-2")
			req.Header.Set("X-Sandbox-Namespace", "team")
			resp, err := (&http.Client{Transport: conn.Transport}).Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			e := &sandbox.HTTPError{Op: "execute", Status: resp.StatusCode, Sandbox: "sb-2"}
			e.Detail = strings.TrimSuffix(strings.SplitN(string(body), `":"`, 2)[1], `"}`)
			e.FromRuntime = strings.Contains(string(body), `"message"`)
			err = conn.Explain(resp, e)
			var refused *RefusedError
			if errors.As(err, &refused) != tc.refused {
				t.Fatalf("%T %v", err, err)
			}
			if refused != nil && (refused.Sent != tc.sent || refused.Namespace != "team") {
				t.Errorf("%+v", refused)
			}
			if e.Detail != tc.detail || strings.Contains(err.Error(), kubeToken) {
				t.Errorf("detail %q, error %q", e.Detail, err)
			}
		})
	}
}

// TestExplainWithoutARequest: an answer without its request (a fake)
// sent nothing.
func TestExplainWithoutARequest(t *testing.T) {
	c := &Conn{Credential: Credential{Identity: IdentityClientCert}, now: time.Now}
	err := c.Explain(&http.Response{StatusCode: 401}, &sandbox.HTTPError{Op: "list", Status: 401, Sandbox: "s"})
	var refused *RefusedError
	if !errors.As(err, &refused) || refused.Sent || refused.Namespace != "" {
		t.Fatalf("%#v", err)
	}
}
