package router

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	"k8s.io/client-go/rest"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/kube"
)

// seen is what a fake router saw of the requests it answered.
type seen struct {
	mu          sync.Mutex
	headers     []http.Header
	hosts       []string
	clientCerts int
}

func (s *seen) last() http.Header {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.headers) == 0 {
		return nil
	}
	return s.headers[len(s.headers)-1]
}

// recordingRouter is an httptest server (https when tlsOn, asking for a
// client certificate) that records each request and answers status.
func recordingRouter(t *testing.T, tlsOn bool, status int) (*httptest.Server, *seen) {
	t.Helper()
	s := &seen{}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.headers = append(s.headers, r.Header.Clone())
		s.hosts = append(s.hosts, r.Host)
		if r.TLS != nil {
			s.clientCerts += len(r.TLS.PeerCertificates)
		}
		s.mu.Unlock()
		w.WriteHeader(status)
	})
	var srv *httptest.Server
	if tlsOn {
		srv = httptest.NewUnstartedServer(h)
		srv.TLS = &tls.Config{ClientAuth: tls.RequestClientCert, MinVersion: tls.VersionTLS12}
		srv.StartTLS()
	} else {
		srv = httptest.NewServer(h)
	}
	t.Cleanup(srv.Close)
	return srv, s
}

// serverCA is the PEM that verifies an httptest TLS server.
func serverCA(srv *httptest.Server) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
}

// clientCertPEM is a self-signed client certificate and its key.
func clientCertPEM(t *testing.T) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "alice"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, KeyUsage: x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})
}

// execPlugin is an exec credential plugin that prints status as its
// ExecCredential.
func execPlugin(t *testing.T, status map[string]string) *clientcmdapi.ExecConfig {
	t.Helper()
	if runtime.GOOS == "windows" {
		t.Skip("the fake exec plugin is a shell script")
	}
	dir := t.TempDir()
	cred, err := json.Marshal(map[string]any{"apiVersion": "client.authentication.k8s.io/v1", "kind": "ExecCredential", "status": status})
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "cred.json")
	script := filepath.Join(dir, "plugin")
	if err := os.WriteFile(out, cred, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(script, []byte("#!/bin/sh\ncat '"+out+"'\n"), 0o700); err != nil { //nolint:gosec // an executable test fixture
		t.Fatal(err)
	}
	return &clientcmdapi.ExecConfig{Command: script, APIVersion: "client.authentication.k8s.io/v1", InteractiveMode: clientcmdapi.NeverExecInteractiveMode}
}

// TestKubeconfigCredentials: without a router token, the router gets the
// kubeconfig's bearer token as client-go would obtain it, and nothing
// else of the API server's: no client certificate, basic auth,
// impersonation or transport wrapper of the plugin's.
func TestKubeconfigCredentials(t *testing.T) {
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte("file-tok\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	certPEM, keyPEM := clientCertPEM(t)
	leak := func(rt http.RoundTripper) http.RoundTripper {
		return roundTripFunc(func(r *http.Request) (*http.Response, error) {
			r = r.Clone(r.Context())
			r.Header.Set("X-Plugin-Wrapper", "leaked")
			return rt.RoundTrip(r)
		})
	}
	for _, tc := range []struct {
		name     string
		cfg      func(t *testing.T) *rest.Config
		identity Identity
		presents Presenting
		auth     string
	}{
		{"no kubeconfig", func(*testing.T) *rest.Config { return nil }, IdentityNone, PresentNothing, ""},
		{"nothing", func(*testing.T) *rest.Config { return &rest.Config{} }, IdentityNone, PresentNothing, ""},
		{"a token", func(*testing.T) *rest.Config {
			return &rest.Config{BearerToken: "kube-tok", Impersonate: rest.ImpersonationConfig{UserName: "bob"}, WrapTransport: leak, UserAgent: "kubectl-sandbox/x"}
		}, IdentityToken, PresentKubeconfig, "Bearer kube-tok"},
		{"a token file", func(*testing.T) *rest.Config { return &rest.Config{BearerTokenFile: tokenFile} }, IdentityTokenFile, PresentKubeconfig, "Bearer file-tok"},
		{"an exec plugin", func(t *testing.T) *rest.Config {
			return &rest.Config{ExecProvider: execPlugin(t, map[string]string{"token": "exec-tok"}), WrapTransport: leak}
		}, IdentityExec, PresentKubeconfig, "Bearer exec-tok"},
		{"an exec plugin that gives a certificate", func(t *testing.T) *rest.Config {
			return &rest.Config{ExecProvider: execPlugin(t, map[string]string{"clientCertificateData": string(certPEM), "clientKeyData": string(keyPEM)})}
		}, IdentityExec, PresentKubeconfig, ""},
		{"a token beside an exec plugin", func(t *testing.T) *rest.Config {
			return &rest.Config{BearerToken: "kube-tok", ExecProvider: execPlugin(t, map[string]string{"token": "exec-tok"})}
		}, IdentityToken, PresentKubeconfig, "Bearer kube-tok"},
		{"a client certificate", func(*testing.T) *rest.Config {
			return &rest.Config{TLSClientConfig: rest.TLSClientConfig{CertData: certPEM, KeyData: keyPEM}}
		}, IdentityClientCert, PresentNothing, ""},
		{"a client certificate beside an exec plugin", func(t *testing.T) *rest.Config {
			return &rest.Config{TLSClientConfig: rest.TLSClientConfig{CertData: certPEM, KeyData: keyPEM}, ExecProvider: execPlugin(t, map[string]string{"token": "exec-tok"})}
		}, IdentityClientCert, PresentNothing, ""},
		{"a username and password", func(*testing.T) *rest.Config { return &rest.Config{Username: "u", Password: "p"} }, IdentityBasic, PresentNothing, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, s := recordingRouter(t, true, http.StatusOK)
			conn, err := Open(context.Background(), &kube.Clients{Config: tc.cfg(t)}, Options{URL: mustURL(t, srv.URL), CAData: serverCA(srv)}, "team")
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			if conn.Credential.Identity != tc.identity || conn.Credential.Presents != tc.presents || conn.Credential.WithheldFrom != "" {
				t.Errorf("credential %+v, want identity %v presenting %v", conn.Credential, tc.identity, tc.presents)
			}
			resp, err := (&http.Client{Transport: conn.Transport}).Get(srv.URL + "/healthz")
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			h := s.last()
			if got := h.Get("Authorization"); got != tc.auth {
				t.Errorf("Authorization %q, want %q", got, tc.auth)
			}
			if got := bearer(resp.Request.Header); "Bearer "+got != tc.auth && got != tc.auth {
				t.Errorf("the answer's request carries %q, want %q", got, tc.auth)
			}
			for _, k := range []string{"Impersonate-User", "X-Plugin-Wrapper"} {
				if h.Get(k) != "" {
					t.Errorf("%s sent to the router", k)
				}
			}
			if s.clientCerts != 0 {
				t.Error("a client certificate was presented to the router")
			}
		})
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// TestKubeTokenIsWithheldFromPlainHTTP: the kubeconfig's token goes over
// https, to loopback (a port-forward), or over plain http when allowed;
// otherwise it is withheld, without an error (an open router needs none).
func TestKubeTokenIsWithheldFromPlainHTTP(t *testing.T) {
	for _, tc := range []struct {
		url      string
		allow    bool
		withheld string
	}{
		{url: "http://127.0.0.1:8080"},
		{url: "http://localhost:8080"},
		{url: "https://10.0.0.1:8443"},
		{url: "http://10.96.0.10:8080", allow: true},
		{url: "http://10.96.0.10:8080", withheld: "10.96.0.10:8080"},
		{url: "http://router.example.com", withheld: "router.example.com"},
	} {
		var sent http.Header
		base := roundTripFunc(func(r *http.Request) (*http.Response, error) {
			sent = r.Header
			return &http.Response{StatusCode: http.StatusOK, Body: http.NoBody, Request: r}, nil
		})
		u := mustURL(t, tc.url)
		c, rt, err := authenticate(Options{AllowInsecureToken: tc.allow}, &rest.Config{BearerToken: "kube-tok"}, u, base)
		if err != nil {
			t.Fatal(err)
		}
		req, _ := http.NewRequest(http.MethodGet, tc.url, nil)
		resp, err := rt.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		want := "Bearer kube-tok"
		if tc.withheld != "" {
			want = ""
		}
		if got := sent.Get("Authorization"); got != want || c.WithheldFrom != tc.withheld || c.Identity != IdentityToken {
			t.Errorf("%s allow=%v: sent %q, credential %+v; want %q withheld from %q", tc.url, tc.allow, got, c, want, tc.withheld)
		}
	}
}

// TestRouterTokenComesFirst: a router token is presented instead of the
// kubeconfig's; a scoped one is told by its shape.
func TestRouterTokenComesFirst(t *testing.T) {
	scoped := mintScoped(t, "team", "sb", time.Unix(2000, 0))
	for _, tc := range []struct {
		token    string
		presents Presenting
		scope    *Scope
	}{
		{"opaque", PresentToken, nil},
		{scoped, PresentScoped, &Scope{Namespace: "team", Name: "sb", Expires: time.Unix(2000, 0).UTC()}},
		{"v1.!!!.sig", PresentScoped, nil},
	} {
		var sent string
		base := roundTripFunc(func(r *http.Request) (*http.Response, error) {
			sent = r.Header.Get("Authorization")
			return &http.Response{StatusCode: http.StatusOK, Body: http.NoBody}, nil
		})
		c, rt, err := authenticate(Options{Token: tc.token}, &rest.Config{BearerToken: "kube-tok"}, mustURL(t, "https://router"), base)
		if err != nil {
			t.Fatal(err)
		}
		req, _ := http.NewRequest(http.MethodGet, "https://router", nil)
		resp, err := rt.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if sent != "Bearer "+tc.token || c.Presents != tc.presents || (c.Scope == nil) != (tc.scope == nil) || c.Scope != nil && *c.Scope != *tc.scope {
			t.Errorf("%s: sent %q, credential %+v", tc.token, sent, c)
		}
	}
}

// TestAnUnreadableTokenFile: the kubeconfig's token file must be readable
// when the router is opened.
func TestAnUnreadableTokenFile(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "gone")
	_, err := Open(context.Background(), &kube.Clients{Config: &rest.Config{BearerTokenFile: missing}}, Options{URL: mustURL(t, "http://127.0.0.1:1")}, "team")
	if err == nil || err.Error() != "reading the bearer token file of the kubeconfig: failed to read token file \""+missing+"\": open "+missing+": no such file or directory" {
		t.Fatalf("error %v", err)
	}
}

// TestABrokenKubeconfigAuth: a kubeconfig client-go cannot use is an error.
func TestABrokenKubeconfigAuth(t *testing.T) {
	cfg := &rest.Config{ExecProvider: &clientcmdapi.ExecConfig{Command: "x", APIVersion: "client.authentication.k8s.io/v1"}, AuthProvider: &clientcmdapi.AuthProviderConfig{Name: "oidc"}}
	_, err := Open(context.Background(), &kube.Clients{Config: cfg}, Options{URL: mustURL(t, "http://127.0.0.1:1")}, "team")
	if want := "reading the credentials of the kubeconfig: execProvider and authProvider cannot be used in combination"; err == nil || err.Error() != want {
		t.Fatalf("error %v, want %q", err, want)
	}
}
