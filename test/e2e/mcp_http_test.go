//go:build e2e

package e2e

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// testCA writes, in a test directory, a CA's certificate and a server
// certificate it signed for 127.0.0.1 with its key; it returns their paths.
func testCA(t *testing.T) (caFile, certFile, keyFile string) {
	t.Helper()
	dir := t.TempDir()
	write := func(name, typ string, der []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	newKey := func() *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	caKey, key := newKey(), newKey()
	now := time.Now()
	ca := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "kubectl-sandbox e2e CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	leaf := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "kubectl-sandbox mcp"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, leaf, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return write("ca.crt", "CERTIFICATE", caDER), write("tls.crt", "CERTIFICATE", der), write("tls.key", "EC PRIVATE KEY", keyDER)
}

// TestMCPHTTPSecurity: `mcp --http` on every address of the machine. It
// refuses to start without a token, or without TLS; with both, the
// official TypeScript client, trusting the CA, is refused without the token
// (401), with a wrong one (401) and from a foreign Origin (403), is served
// with the token over TLS, and a body over --http-max-body-bytes is refused
// (413) while the session goes on.
func TestMCPHTTPSecurity(t *testing.T) {
	noMCPClaimsBefore(t)
	caFile, certFile, keyFile := testCA(t)
	token := "e2e0123456789abcdef0123456789abcdef"
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte(token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"mcp", "--http", "0.0.0.0:0"},
			"error: --http 0.0.0.0:0 serves other machines: it needs a bearer token in a file (--http-token-file) or in $KUBECTL_SANDBOX_MCP_TOKEN (make one with: openssl rand -hex 32)\n"},
		{[]string{"mcp", "--http", "0.0.0.0:0", "--tls-cert-file", certFile, "--tls-key-file", keyFile},
			"error: --http 0.0.0.0:0 serves other machines: it needs a bearer token in a file (--http-token-file) or in $KUBECTL_SANDBOX_MCP_TOKEN (make one with: openssl rand -hex 32)\n"},
		{[]string{"mcp", "--http", "0.0.0.0:0", "--http-token-file", tokenFile},
			"error: --http 0.0.0.0:0 serves other machines: it needs TLS (--tls-cert-file and --tls-key-file), or --http-allow-plaintext behind a proxy that terminates TLS\n"},
	} {
		res := Sandbox(t, tc.args...).Run()
		if res.ExitCode != 1 || res.Stdout != "" || res.Stderr != tc.want {
			t.Errorf("%s: exit %d, stdout %q, stderr %q\nwant exit 1 and stderr %q", strings.Join(tc.args, " "), res.ExitCode, res.Stdout, res.Stderr, tc.want)
		}
	}

	srv := startMCPHTTPOn(t, "0.0.0.0:0", nil, "--http-token-file", tokenFile,
		"--tls-cert-file", certFile, "--tls-key-file", keyFile, "--http-max-body-bytes", "65536")
	if !strings.HasPrefix(srv.url, "https://") {
		t.Fatalf("serving on %s, want https", srv.url)
	}
	rep := runMCPClient(t, []string{"NODE_EXTRA_CA_CERTS=" + caFile, "MCP_TOKEN=" + token, "MCP_BIG_BYTES=100000"},
		"http", srv.url, "--flow", "security")
	for _, c := range []struct {
		what string
		got  mcpRefusal
		want int
	}{
		{"no token", rep.NoToken, 401},
		{"a wrong token", rep.WrongToken, 401},
		{"the token and Origin http://evil.example", rep.ForeignOrigin, 403},
		{"a body of 100000 bytes over a bound of 65536", rep.BigBody, 413},
	} {
		if c.got.Status != c.want {
			t.Errorf("%s: HTTP %d (%s), want %d", c.what, c.got.Status, c.got.Message, c.want)
		}
	}
	checkTools(t, rep)
	if rep.ListAfterBigBody.IsError || !rep.SessionTerminated {
		t.Errorf("after the refused body: sandbox_list is an error %v, session terminated %v", rep.ListAfterBigBody.IsError, rep.SessionTerminated)
	}
	if code := srv.stop(t); code != 143 {
		t.Errorf("after SIGTERM the server exited %d, want 143", code)
	}
	if s := srv.Stderr(); strings.Contains(s, token) {
		t.Errorf("the server printed its token:\n%s", s)
	}
}
