package mcp

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"
)

const testToken = "0123456789abcdef0123456789abcdef"

// initialize is an MCP initialize request's body.
const initialize = `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"test","version":"0"}}}`

// serveHTTP starts the tools over HTTP on a loopback test server.
func serveHTTP(t *testing.T, o HTTPOptions) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(HTTPHandler(New(nil, Options{Namespace: "default"}).MCP(), o))
	t.Cleanup(srv.Close)
	return srv
}

// post sends body to the server's /mcp with the headers and returns the
// status and the start of the answer.
func post(t *testing.T, srv *httptest.Server, method, body string, header map[string]string) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), method, srv.URL+Path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if id := resp.Header.Get("Mcp-Session-Id"); id != "" {
		// End the session that the request started.
		t.Cleanup(func() {
			end, _ := http.NewRequestWithContext(context.Background(), http.MethodDelete, srv.URL+Path, nil)
			end.Header.Set("Mcp-Session-Id", id)
			end.Header.Set("Authorization", req.Header.Get("Authorization"))
			if resp, err := srv.Client().Do(end); err == nil {
				resp.Body.Close()
			}
		})
	}
	return resp.StatusCode, string(b)
}

// TestHTTPNeedsTheToken: with a token, a request without it, or with
// another one (however close), is answered 401 and reaches no tool; with
// it, the session starts.
func TestHTTPNeedsTheToken(t *testing.T) {
	srv := serveHTTP(t, HTTPOptions{Token: testToken})
	for name, auth := range map[string]string{
		"none":          "",
		"empty bearer":  "Bearer ",
		"wrong":         "Bearer 0123456789abcdef0123456789abcdee",
		"prefix":        "Bearer " + testToken[:16],
		"longer":        "Bearer " + testToken + "0",
		"basic":         "Basic " + testToken,
		"token alone":   testToken,
		"another token": "Bearer x",
	} {
		h := map[string]string{}
		if auth != "" {
			h["Authorization"] = auth
		}
		if code, body := post(t, srv, http.MethodPost, initialize, h); code != http.StatusUnauthorized || strings.Contains(body, `"result"`) {
			t.Errorf("%s: %d %q, want 401", name, code, body)
		}
	}
	if code, body := post(t, srv, http.MethodPost, initialize, map[string]string{"Authorization": "Bearer " + testToken}); code != http.StatusOK || !strings.Contains(body, `"protocolVersion":"2025-11-25"`) {
		t.Errorf("the right token: %d %q", code, body)
	}
}

// TestHTTPWithoutTokenServes: without a token (loopback only, which the
// front-end enforces) a request needs none.
func TestHTTPWithoutTokenServes(t *testing.T) {
	srv := serveHTTP(t, HTTPOptions{})
	if code, body := post(t, srv, http.MethodPost, initialize, nil); code != http.StatusOK || !strings.Contains(body, `"protocolVersion":"2025-11-25"`) {
		t.Errorf("%d %q", code, body)
	}
}

// TestHTTPRefusesCrossOrigin: a browser's cross-origin request (a foreign
// Origin, or Sec-Fetch-Site cross-site) is refused with 403 whatever its
// method, even with the token; the same origin and non-browser clients (no
// Origin) are served.
func TestHTTPRefusesCrossOrigin(t *testing.T) {
	srv := serveHTTP(t, HTTPOptions{Token: testToken})
	auth := "Bearer " + testToken
	host := strings.TrimPrefix(srv.URL, "http://")
	for _, tc := range []struct {
		method string
		header map[string]string
		want   int
	}{
		{http.MethodPost, map[string]string{"Origin": "http://evil.example"}, http.StatusForbidden},
		{http.MethodGet, map[string]string{"Origin": "http://evil.example"}, http.StatusForbidden},
		{http.MethodDelete, map[string]string{"Origin": "http://evil.example"}, http.StatusForbidden},
		{http.MethodOptions, map[string]string{"Origin": "http://evil.example"}, http.StatusForbidden},
		{http.MethodPost, map[string]string{"Sec-Fetch-Site": "cross-site"}, http.StatusForbidden},
		{http.MethodGet, map[string]string{"Sec-Fetch-Site": "same-site", "Origin": "http://" + host}, http.StatusForbidden},
		{http.MethodPost, map[string]string{"Origin": "http://" + host}, http.StatusOK},
		{http.MethodPost, map[string]string{"Sec-Fetch-Site": "same-origin"}, http.StatusOK},
		{http.MethodPost, nil, http.StatusOK},
	} {
		h := map[string]string{"Authorization": auth}
		for k, v := range tc.header {
			h[k] = v
		}
		if code, body := post(t, srv, tc.method, initialize, h); code != tc.want {
			t.Errorf("%s %v: %d %q, want %d", tc.method, tc.header, code, body, tc.want)
		}
	}
}

// TestHTTPBoundsBodies: a body over the bound is refused with 413 before
// it is read whole; one within it is served.
func TestHTTPBoundsBodies(t *testing.T) {
	srv := serveHTTP(t, HTTPOptions{Token: testToken, MaxBodyBytes: 4096})
	auth := map[string]string{"Authorization": "Bearer " + testToken}
	pad := func(n int) string {
		// initialize with a clientInfo name of n bytes.
		return strings.Replace(initialize, `"name":"test"`, `"name":"`+strings.Repeat("x", n)+`"`, 1)
	}
	if code, body := post(t, srv, http.MethodPost, pad(5000), auth); code != http.StatusRequestEntityTooLarge {
		t.Errorf("a body of 5 KB over a bound of 4 KiB: %d %q, want 413", code, body)
	}
	if code, body := post(t, srv, http.MethodPost, pad(3000), auth); code != http.StatusOK {
		t.Errorf("a body within the bound: %d %q", code, body)
	}
}

// TestHTTPDefaultBodyBound: without a bound, the SDK's default holds.
func TestHTTPDefaultBodyBound(t *testing.T) {
	srv := serveHTTP(t, HTTPOptions{})
	big := strings.Replace(initialize, `"name":"test"`, `"name":"`+strings.Repeat("x", int(sdk.DefaultMaxRequestBodyBytes))+`"`, 1)
	if code, _ := post(t, srv, http.MethodPost, big, nil); code != http.StatusRequestEntityTooLarge {
		t.Errorf("%d, want 413", code)
	}
}
