package cmd

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"
	"k8s.io/cli-runtime/pkg/genericiooptions"
)

const goodToken = "0123456789abcdef0123456789abcdef"

// writeFile writes content to a file in a test directory and returns its path.
func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// selfSigned writes a certificate for 127.0.0.1 and its key, and returns
// their paths and a pool that trusts the certificate.
func selfSigned(t *testing.T) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "kubectl-sandbox-test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return writeFile(t, "tls.crt", string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))),
		writeFile(t, "tls.key", string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}))), pool
}

// TestMCPHTTPSafety: --http off loopback does not start without a bearer
// token (from a file or the environment) nor, unless
// --http-allow-plaintext, without TLS; weak tokens and half TLS settings
// are refused; all of it before any API call.
func TestMCPHTTPSafety(t *testing.T) {
	token := writeFile(t, "token", goodToken+"\n")
	short := writeFile(t, "short", "secret")
	spaced := writeFile(t, "spaced", "0123456789abcdef 0123456789abcdef")
	cert, key, _ := selfSigned(t)
	for _, tc := range []struct {
		args []string
		env  string
		want string
	}{
		{[]string{"--http", "0.0.0.0:8765"}, "", "--http 0.0.0.0:8765 serves other machines: it needs a bearer token in a file (--http-token-file) or in $KUBECTL_SANDBOX_MCP_TOKEN (make one with: openssl rand -hex 32)"},
		{[]string{"--http", "[::]:8765", "--tls-cert-file", cert, "--tls-key-file", key}, "", "--http [::]:8765 serves other machines: it needs a bearer token"},
		{[]string{"--http", "agents.example:8765"}, "", "--http agents.example:8765 serves other machines: it needs a bearer token"},
		{[]string{"--http", "0.0.0.0:8765", "--http-token-file", token}, "", "--http 0.0.0.0:8765 serves other machines: it needs TLS (--tls-cert-file and --tls-key-file), or --http-allow-plaintext behind a proxy that terminates TLS"},
		{[]string{"--http", "0.0.0.0:8765"}, goodToken, "--http 0.0.0.0:8765 serves other machines: it needs TLS"},
		{[]string{"--http", ":8765", "--http-token-file", short}, "", "the bearer token of --http-token-file or $KUBECTL_SANDBOX_MCP_TOKEN must be at least 16 characters, without white space (make one with: openssl rand -hex 32)"},
		{[]string{"--http", ":8765", "--http-token-file", spaced}, "", "the bearer token of --http-token-file or $KUBECTL_SANDBOX_MCP_TOKEN must be at least 16 characters"},
		{[]string{"--http", ":8765"}, "short", "the bearer token of --http-token-file or $KUBECTL_SANDBOX_MCP_TOKEN must be at least 16 characters"},
		{[]string{"--http", ":8765", "--http-token-file", filepath.Join(t.TempDir(), "none")}, "", "reading --http-token-file: open "},
		{[]string{"--http", ":8765", "--tls-cert-file", cert}, "", "give both --tls-cert-file and --tls-key-file, or neither"},
		{[]string{"--http", ":8765", "--tls-cert-file", cert, "--tls-key-file", token}, "", "loading --tls-cert-file and --tls-key-file: tls: "},
		{[]string{"--http", ":8765", "--http-max-body-bytes", "0"}, "", "--http-max-body-bytes must be positive"},
		{[]string{"--http-token-file", token}, "", "--http-token-file, --tls-cert-file and --tls-key-file need --http"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			t.Setenv(envMCPToken, tc.env)
			f := newFakeFactory()
			res := runWith(t, f, NewCmdMCP, "", tc.args)
			if res.err == nil || !strings.HasPrefix(res.err.Error(), tc.want) {
				t.Errorf("error %v\nwant %s", res.err, tc.want)
			}
			if a := apiCalls(f); len(a) != 0 {
				t.Errorf("refused flags reached the API: %v", a)
			}
			if res.out != "" || res.errOut != "" {
				t.Errorf("stdout %q, stderr %q", res.out, res.errOut)
			}
		})
	}
}

// bearer adds a bearer token to requests.
type bearer struct {
	token string
	next  http.RoundTripper
}

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.token)
	return b.next.RoundTrip(r)
}

// serveMCPHTTP runs the verb with args until the test ends and returns the
// URL it serves.
func serveMCPHTTP(t *testing.T, f Factory, args []string) string {
	t.Helper()
	errOut := &signalWriter{want: "Serving MCP on ", seen: make(chan struct{})}
	cmd := NewCmdMCP(f, genericiooptions.IOStreams{In: strings.NewReader(""), Out: io.Discard, ErrOut: errOut})
	cmd.SetArgs(args)
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- cmd.ExecuteContext(ctx) }()
	t.Cleanup(func() {
		stop()
		if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("mcp: %v", err)
		}
	})
	select {
	case <-errOut.seen:
	case err := <-done:
		done <- err
		t.Fatalf("mcp ended: %v (stderr %q)", err, errOut.String())
	}
	_, endpoint, _ := strings.Cut(strings.TrimSpace(errOut.String()), "Serving MCP on ")
	return endpoint
}

// TestMCPHTTPOverTLSWithToken: on every address, with a token and TLS, an
// MCP client that trusts the certificate and sends the token lists the
// tools; one without the token is refused, and plain HTTP gets no answer
// of the server's.
func TestMCPHTTPOverTLSWithToken(t *testing.T) {
	cert, key, pool := selfSigned(t)
	endpoint := serveMCPHTTP(t, newFakeFactory(), []string{"--http", "0.0.0.0:0", "--http-token-file", writeFile(t, "token", goodToken),
		"--tls-cert-file", cert, "--tls-key-file", key})
	u := strings.Replace(endpoint, "0.0.0.0", "127.0.0.1", 1)
	if !strings.HasPrefix(endpoint, "https://0.0.0.0:") || !strings.HasSuffix(endpoint, "/mcp") {
		t.Fatalf("serving on %q", endpoint)
	}
	tlsTransport := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}
	defer tlsTransport.CloseIdleConnections()
	ctx := context.Background()
	connect := func(rt http.RoundTripper) (*sdk.ClientSession, error) {
		return sdk.NewClient(&sdk.Implementation{Name: "test", Version: "0"}, nil).Connect(ctx,
			&sdk.StreamableClientTransport{Endpoint: u, HTTPClient: &http.Client{Transport: rt}, MaxRetries: -1}, nil)
	}
	cs, err := connect(bearer{goodToken, tlsTransport})
	if err != nil {
		t.Fatal(err)
	}
	tools, err := cs.ListTools(ctx, nil)
	if err != nil || len(tools.Tools) == 0 {
		t.Errorf("tools: %+v, %v", tools, err)
	}
	_ = cs.Close()
	if cs, err := connect(tlsTransport); err == nil || !strings.Contains(err.Error(), "Unauthorized") {
		t.Errorf("without the token: %v", err)
		if cs != nil {
			_ = cs.Close()
		}
	}
	if cs, err := connect(bearer{goodToken + "x", tlsTransport}); err == nil || !strings.Contains(err.Error(), "Unauthorized") {
		t.Errorf("with another token: %v", err)
		if cs != nil {
			_ = cs.Close()
		}
	}
	resp, err := http.Post(strings.Replace(u, "https:", "http:", 1), "application/json", strings.NewReader("{}"))
	if err == nil {
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("plain HTTP to the TLS port: %s", resp.Status)
		}
		resp.Body.Close()
	}
}

// TestMCPDebugAddr: the hidden --debug-addr serves the server's profiles
// and a forced collection on loopback only.
func TestMCPDebugAddr(t *testing.T) {
	f := newFakeFactory()
	res := runWith(t, f, NewCmdMCP, "", []string{"--http", ":0", "--debug-addr", "0.0.0.0:0"})
	if want := `invalid --debug-addr "0.0.0.0:0": use a loopback HOST:PORT (profiles show the server's insides)`; res.err == nil || res.err.Error() != want {
		t.Errorf("error %v, want %s", res.err, want)
	}

	errOut := &signalWriter{want: "Serving MCP on ", seen: make(chan struct{})}
	cmd := NewCmdMCP(newFakeFactory(), genericiooptions.IOStreams{In: strings.NewReader(""), Out: io.Discard, ErrOut: errOut})
	cmd.SetArgs([]string{"--http", "127.0.0.1:0", "--debug-addr", "127.0.0.1:0"})
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- cmd.ExecuteContext(ctx) }()
	defer func() {
		stop()
		<-done
	}()
	select {
	case <-errOut.seen:
	case err := <-done:
		t.Fatalf("mcp ended: %v", err)
	}
	var base string
	for _, line := range strings.Split(errOut.String(), "\n") {
		if rest, ok := strings.CutPrefix(line, "Serving profiles on "); ok {
			base = strings.TrimSuffix(rest, "/debug/pprof/")
		}
	}
	if !strings.HasPrefix(base, "http://127.0.0.1:") {
		t.Fatalf("stderr %q", errOut.String())
	}
	resp, err := http.Get(base + "/debug/pprof/goroutine?debug=1")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.HasPrefix(string(body), "goroutine profile: total ") {
		t.Errorf("goroutine profile: %q", body)
	}
	resp, err = http.Post(base+"/debug/free", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Errorf("/debug/free: %s", resp.Status)
	}
}
