package router

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/kube"
)

func mustURL(t *testing.T, raw string) *url.URL {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func TestParseURL(t *testing.T) {
	hint := ": use http://HOST[:PORT] or https://HOST[:PORT]"
	for _, tc := range []struct {
		raw, want, err string
	}{
		{raw: "https://router.example.com:8443/base", want: "https://router.example.com:8443/base"},
		{raw: "http://127.0.0.1:8080", want: "http://127.0.0.1:8080"},
		{raw: "http://[fd00::1]:8080", want: "http://[fd00::1]:8080"},
		{raw: "router:8080", err: `invalid router URL "router:8080"` + hint},
		{raw: "ftp://router", err: `invalid router URL "ftp://router"` + hint},
		{raw: "http://", err: `invalid router URL "http://"` + hint},
		{raw: "://router", err: `invalid router URL "://router"` + hint},
		{raw: "", err: `invalid router URL ""` + hint},
	} {
		u, err := ParseURL(tc.raw)
		got, gotErr := "", ""
		if u != nil {
			got = u.String()
		}
		if err != nil {
			gotErr = err.Error()
		}
		if got != tc.want || gotErr != tc.err {
			t.Errorf("ParseURL(%q) = %q, %q; want %q, %q", tc.raw, got, gotErr, tc.want, tc.err)
		}
	}
}

// TestTokenIsNotSentInClearOffLoopback: a bearer token goes over https, to
// loopback, or off loopback over http only when explicitly allowed.
func TestTokenIsNotSentInClearOffLoopback(t *testing.T) {
	for _, tc := range []struct {
		url, token string
		allow      bool
		err        string
	}{
		{url: "http://127.0.0.1:8080", token: "t"},
		{url: "http://127.0.0.2:8080", token: "t"},
		{url: "http://[::1]:8080", token: "t"},
		{url: "http://localhost:8080", token: "t"},
		{url: "https://router.example.com", token: "t"},
		{url: "http://router.example.com", token: ""},
		{url: "http://router.example.com:8080", token: "t", allow: true},
		{url: "http://router.example.com:8080", token: "t", err: "refusing to send the router token over plain http to router.example.com:8080"},
		{url: "http://10.0.0.1", token: "t", err: "refusing to send the router token over plain http to 10.0.0.1"},
		{url: "http://localhost.example.com", token: "t", err: "refusing to send the router token over plain http to localhost.example.com"},
	} {
		_, _, err := authenticate(Options{Token: tc.token, AllowInsecureToken: tc.allow}, nil, mustURL(t, tc.url), http.DefaultTransport)
		gotErr := ""
		if err != nil {
			gotErr = err.Error()
			var insecure *InsecureTokenError
			if !errors.As(err, &insecure) {
				t.Errorf("%s: %T is not an *InsecureTokenError", tc.url, err)
			}
		}
		if gotErr != tc.err {
			t.Errorf("%s token=%q allow=%v: error %q, want %q", tc.url, tc.token, tc.allow, gotErr, tc.err)
		}
	}
}

// TestTLSIsVerifiedByDefault: an https router needs its CA (CAData) unless
// verification is explicitly skipped.
func TestTLSIsVerifiedByDefault(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}))
	defer srv.Close()
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	other := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: otherCA(t)})
	for _, tc := range []struct {
		name          string
		o             Options
		unknownAuthor bool
	}{
		{name: "system roots only", o: Options{}, unknownAuthor: true},
		{name: "another CA", o: Options{CAData: other}, unknownAuthor: true},
		{name: "the server's CA", o: Options{CAData: ca}},
		{name: "verification skipped", o: Options{InsecureSkipTLSVerify: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rt, err := newTransport(tc.o, "")
			if err != nil {
				t.Fatal(err)
			}
			defer rt.CloseIdleConnections()
			resp, err := (&http.Client{Transport: rt}).Get(srv.URL)
			if err == nil {
				resp.Body.Close()
			}
			var unknown x509.UnknownAuthorityError
			if got := errors.As(err, &unknown); got != tc.unknownAuthor {
				t.Errorf("unknown authority %v, want %v (error %v)", got, tc.unknownAuthor, err)
			}
			if !tc.unknownAuthor && err != nil {
				t.Errorf("GET: %v", err)
			}
		})
	}
}

// otherCA is a self-signed CA certificate that did not sign the test
// server's (every httptest server shares one certificate).
func otherCA(t *testing.T) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "another CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func TestTransportRejectsACABundleWithoutCertificates(t *testing.T) {
	for _, data := range []string{"not PEM", "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"} {
		_, err := newTransport(Options{CAData: []byte(data)}, "")
		if want := "the router CA bundle holds no PEM certificate"; err == nil || err.Error() != want {
			t.Errorf("CA data %q: error %v, want %q", data, err, want)
		}
	}
}

// TestOpenDirectURL: a router URL is used as given; its transport and the
// token rule still apply, and the URL's password never reaches messages.
func TestOpenDirectURL(t *testing.T) {
	for _, tc := range []struct {
		name    string
		o       Options
		base    string
		via     string
		err     string
		errType any
	}{
		{
			name: "loopback with a token",
			o:    Options{URL: mustURL(t, "http://127.0.0.1:8080"), Token: "t"},
			base: "http://127.0.0.1:8080",
			via:  "router http://127.0.0.1:8080",
		},
		{
			name: "the password is redacted",
			o:    Options{URL: mustURL(t, "https://user:s3cret@router.example.com/base")},
			base: "https://user:s3cret@router.example.com/base",
			via:  "router https://user:xxxxx@router.example.com/base",
		},
		{
			name:    "a token over plain http off loopback",
			o:       Options{URL: mustURL(t, "http://router.example.com:8080"), Token: "t"},
			err:     "refusing to send the router token over plain http to router.example.com:8080",
			errType: new(*InsecureTokenError),
		},
		{
			name: "a CA bundle without certificates",
			o:    Options{URL: mustURL(t, "https://router.example.com"), CAData: []byte("not PEM")},
			err:  "the router CA bundle holds no PEM certificate",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// A direct URL makes no API call: the clients are empty.
			conn, err := Open(context.Background(), &kube.Clients{}, tc.o, "team")
			if tc.err != "" {
				if err == nil || err.Error() != tc.err || conn != nil {
					t.Fatalf("Open = %v, %v; want error %q", conn, err, tc.err)
				}
				if tc.errType != nil && !errors.As(err, tc.errType) {
					t.Errorf("%T is not a %T", err, tc.errType)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			if conn.BaseURL.String() != tc.base || conn.Via != tc.via {
				t.Errorf("base %q via %q; want %q, %q", conn.BaseURL, conn.Via, tc.base, tc.via)
			}
			if conn.Transport == nil {
				t.Error("no transport")
			}
		})
	}
}

func TestConnCloseRunsTheTeardownOnce(t *testing.T) {
	n := 0
	c := &Conn{close: func() { n++ }}
	c.Close()
	c.Close()
	if n != 1 {
		t.Errorf("teardown ran %d times, want 1", n)
	}
	(&Conn{}).Close() // nothing to tear down
}
