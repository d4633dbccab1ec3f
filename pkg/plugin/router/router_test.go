package router

import (
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
)

func gateway(addrs []string, listeners ...gatewayv1.Listener) *gatewayv1.Gateway {
	g := &gatewayv1.Gateway{Spec: gatewayv1.GatewaySpec{Listeners: listeners}}
	for _, a := range addrs {
		g.Status.Addresses = append(g.Status.Addresses, gatewayv1.GatewayStatusAddress{Value: a})
	}
	return g
}

func listener(proto gatewayv1.ProtocolType, port int32) gatewayv1.Listener {
	return gatewayv1.Listener{Name: "l", Protocol: proto, Port: port}
}

func TestGatewayURL(t *testing.T) {
	for _, tc := range []struct {
		name    string
		g       *gatewayv1.Gateway
		want    string
		problem string
	}{
		{"http on 80", gateway([]string{"10.1.2.3"}, listener(gatewayv1.HTTPProtocolType, 80)), "http://10.1.2.3:80", ""},
		{"https listener port", gateway([]string{"gw.example.com"}, listener(gatewayv1.TCPProtocolType, 9000), listener(gatewayv1.HTTPSProtocolType, 8443)), "https://gw.example.com:8443", ""},
		{"ipv6", gateway([]string{"fd00::1"}, listener(gatewayv1.HTTPProtocolType, 8080)), "http://[fd00::1]:8080", ""},
		{"skips unusable", gateway([]string{"", "1.2.3", "bad/host", "10.0.0.9"}, listener(gatewayv1.HTTPProtocolType, 80)), "http://10.0.0.9:80", ""},
		{"no address", gateway(nil, listener(gatewayv1.HTTPProtocolType, 80)), "", "status.addresses has no IP address or hostname yet"},
		{"no http listener", gateway([]string{"10.0.0.1"}, listener(gatewayv1.TCPProtocolType, 80)), "", "it has no HTTP or HTTPS listener"},
	} {
		u, problem := gatewayURL(tc.g)
		got := ""
		if u != nil {
			got = u.String()
		}
		if got != tc.want || problem != tc.problem {
			t.Errorf("%s: got %q %q, want %q %q", tc.name, got, problem, tc.want, tc.problem)
		}
	}
}

func TestDirect(t *testing.T) {
	if c, err := direct("https://router.example.com:8443/base"); err != nil || c.BaseURL.String() != "https://router.example.com:8443/base" {
		t.Errorf("%v %v", c, err)
	}
	for _, bad := range []string{"router:8080", "ftp://x", "http://"} {
		if _, err := direct(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestTokenIsNotSentInClearOffLoopback(t *testing.T) {
	for _, tc := range []struct {
		url   string
		allow bool
		ok    bool
	}{
		{"http://127.0.0.1:8080", false, true},
		{"http://localhost:8080", false, true},
		{"https://router.example.com", false, true},
		{"http://router.example.com", false, false},
		{"http://router.example.com", true, true},
	} {
		u, _ := url.Parse(tc.url)
		err := checkToken(Options{Token: "t", AllowInsecureToken: tc.allow}, u)
		if (err == nil) != tc.ok {
			t.Errorf("%s allow=%v: %v", tc.url, tc.allow, err)
		}
	}
}

// TestTLSIsVerifiedByDefault: an https router needs its CA (--router-ca-file)
// unless verification is explicitly skipped.
func TestTLSIsVerifiedByDefault(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}))
	defer srv.Close()
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	get := func(o Options) error {
		rt, err := transport(o)
		if err != nil {
			return err
		}
		resp, err := (&http.Client{Transport: rt}).Get(srv.URL)
		if err == nil {
			resp.Body.Close()
		}
		return err
	}
	if err := get(Options{}); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("an unknown CA was accepted: %v", err)
	}
	if err := get(Options{CAFile: caFile}); err != nil {
		t.Errorf("with --router-ca-file: %v", err)
	}
	if err := get(Options{InsecureSkipTLSVerify: true}); err != nil {
		t.Errorf("with --router-insecure-skip-tls-verify: %v", err)
	}
	if _, err := transport(Options{CAFile: filepath.Join(t.TempDir(), "missing.pem")}); err == nil {
		t.Error("a missing CA file was accepted")
	}
}
