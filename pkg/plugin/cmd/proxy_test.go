package cmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
)

func TestProxyValidation(t *testing.T) {
	checkRefused(t, "proxy", NewCmdProxy, []refusal{
		{[]string{"c1", "0"}, `invalid port "0": must be 1-65535`},
		{[]string{"c1", "70000"}, `invalid port "70000": must be 1-65535`},
		{[]string{"c1", "x"}, `invalid port "x": must be 1-65535`},
		{[]string{"c1", "8000", "--port", "-1"}, "invalid --port -1: must be 0-65535"},
		{[]string{"c1", "8000", "--port", "70000"}, "invalid --port 70000: must be 0-65535"},
		{[]string{"c1", "8000", "--address", "example.com"}, `invalid --address "example.com": use an IP address or localhost`},
		{[]string{"Bad_Name", "8000"}, `invalid claim name "Bad_Name"`},
		{[]string{"c1", "8000", "--router-url", "ftp://x"}, `invalid --router-url "ftp://x"`},
		{[]string{"c1"}, "accepts 2 arg(s), received 1"},
	})
}

func TestProxyRun(t *testing.T) {
	f, r, routerArgs := dataPlane(t)
	port := freePort(t)
	v := start(t, f, NewCmdProxy, append([]string{"a", "8000", "--port", strconv.Itoa(port), "--router-token", "s3cret"}, routerArgs...))
	if got, want := v.line(t), fmt.Sprintf("Serving sandboxclaim a port 8000 on http://127.0.0.1:%d/\n", port); got != want {
		t.Fatalf("printed %q, want %q", got, want)
	}
	client := &http.Client{Transport: &http.Transport{}}
	defer client.Transport.(*http.Transport).CloseIdleConnections()
	req, err := http.NewRequest(http.MethodGet, fmt.Sprintf("http://127.0.0.1:%d/exists/some/file", port), nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer the-user's-own")
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"exists":false`) {
		t.Errorf("answer %s %s", resp.Status, body)
	}
	reqs := r.Requests()
	if len(reqs) != 1 {
		t.Fatalf("router saw %d requests", len(reqs))
	}
	h := reqs[0].Header
	if reqs[0].Path != "/exists/some/file" || h.Get("X-Sandbox-Port") != "8000" || h.Get("X-Sandbox-ID") != "sb-a" ||
		h.Get("X-Sandbox-Namespace") != "default" || h.Get("Authorization") != "Bearer s3cret" {
		t.Errorf("router saw %s with %v", reqs[0].Path, h)
	}
	if err := v.stop(); !errors.Is(err, context.Canceled) {
		t.Errorf("the verb returned %v, want %v", err, context.Canceled)
	}
	if c, err := net.Dial("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port))); err == nil {
		c.Close()
		t.Error("the proxy still listens after it returned")
	}
	// A local port already taken.
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	addr := taken.Addr().String()
	res := runWith(t, f, NewCmdProxy, "", append([]string{"a", "8000", "--port", strconv.Itoa(taken.Addr().(*net.TCPAddr).Port)}, routerArgs...))
	if res.err == nil || !strings.HasPrefix(res.err.Error(), "listening on "+addr+": ") || res.out != "" {
		t.Errorf("%+v", res)
	}
	// A claim that is not Ready is refused before anything listens.
	res = runWith(t, f, NewCmdProxy, "", append([]string{"p", "8000"}, routerArgs...))
	if res.err == nil || res.err.Error() != `sandboxclaim "p" is not Ready (SandboxNotReady)` || res.out != "" {
		t.Errorf("%+v", res)
	}
}
