//go:build e2e

package e2e

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"syscall"
	"testing"
)

const (
	gatewayName = "external-http-gateway"
	// routerURL is the router's Service, sandbox-router-svc, at its fixed
	// ClusterIP (hack/cluster/router.yaml), which the host reaches through
	// the node's kube-proxy.
	routerURL = "http://10.96.0.10:8080"
	// pythonImage and sandboxdImage are the images of the seed templates,
	// built by hack/build-images.sh.
	pythonImage   = "local.test/agent-sandbox/python-runtime-sandbox:v0.5.6"
	sandboxdImage = "local.test/agent-sandbox/sandboxd:v0.5.6"
)

// readyClaim creates a Ready claim on the (runc) python pool for the test
// and deletes it afterwards.
func readyClaim(t *testing.T, name string, extra ...string) string {
	t.Helper()
	return claimOn(t, pythonPools[0], name, extra...)
}

func TestExecConnectionModes(t *testing.T) {
	c := readyClaim(t, "e2e-modes")
	for _, mode := range []struct {
		name string
		args []string
		env  []string
	}{
		{"port-forward (default)", nil, nil},
		{"gateway", []string{"--gateway", gatewayName}, nil},
		{"router url", []string{"--router-url", routerURL}, nil},
		{"router url from the environment", nil, []string{"KUBECTL_SANDBOX_ROUTER_URL=" + routerURL}},
		{"gateway from the environment", nil, []string{"KUBECTL_SANDBOX_GATEWAY=" + gatewayName, "KUBECTL_SANDBOX_GATEWAY_NAMESPACE=default"}},
	} {
		args := append(append([]string{"exec", c}, mode.args...), "--", "echo", "via "+mode.name)
		res := Sandbox(t, args...).WithEnv(mode.env...).RunOrFail()
		if res.Stdout != "via "+mode.name+"\n" {
			t.Errorf("%s: stdout %q stderr %q", mode.name, res.Stdout, res.Stderr)
		}
	}
}

func TestExecExitCodesAndSplitStreams(t *testing.T) {
	onPools(t, pythonPools, func(t *testing.T, p pool) {
		c := claimOn(t, p, "e2e-exit")
		for _, code := range []string{"0", "1", "42"} {
			res := Sandbox(t, "exec", c, "--router-url", routerURL, "--", "/usr/bin/python3", "-c",
				"import sys; sys.stdout.write('out\\n'); sys.stderr.write('err\\n'); sys.exit("+code+")").Run()
			if res.Stdout != "out\n" || res.Stderr != "err\n" || code != itoa(res.ExitCode) {
				t.Errorf("exit %s: got exit %d stdout %q stderr %q", code, res.ExitCode, res.Stdout, res.Stderr)
			}
		}
		res := Sandbox(t, "exec", c, "--router-url", routerURL, "-o", "json", "--", "sh", "-c", "printf 'a\\nb'; echo e >&2; exit 7").Run()
		if res.ExitCode != 7 || res.Stdout != `{"stdout":"a\nb","stderr":"e\n","exitCode":7}`+"\n" {
			t.Errorf("-o json: exit %d stdout %q", res.ExitCode, res.Stdout)
		}
		res = Sandbox(t, "exec", c, "--timeout", "1s", "--", "sleep", "10").Run()
		if res.ExitCode != 124 || res.Stderr != "error: the command did not finish within 1s; it may still be running in the sandbox (raise --timeout)\n" {
			t.Errorf("--timeout: exit %d stderr %q", res.ExitCode, res.Stderr)
		}
	})
}

func itoa(i int) string { b, _ := json.Marshal(i); return string(b) }

// TestExecHostileArgvRoundTrips: each argument reaches the process exactly.
func TestExecHostileArgvRoundTrips(t *testing.T) {
	onPools(t, pythonPools, func(t *testing.T, p pool) {
		c := claimOn(t, p, "e2e-argv")
		hostile := []string{"hello world", "it's", `"double"`, `back\slash`, `\\`, "$HOME", "`id`", "a;b|c&d",
			"line1\nline2", "tab\tx", "ünïcødé 日本語 🎉", "", "  ", "-n", "--", "--flag=x", "*", "'", `'"'"'`, "#x", "~"}
		args := append([]string{"exec", c, "--", "/usr/bin/python3", "-c", "import json,sys; print(json.dumps(sys.argv[1:]))"}, hostile...)
		res := Sandbox(t, args...).RunOrFail()
		var got []string
		if err := json.Unmarshal([]byte(res.Stdout), &got); err != nil {
			t.Fatalf("%v: %q", err, res.Stdout)
		}
		if !reflect.DeepEqual(got, hostile) {
			t.Errorf("argv\n got %q\nwant %q", got, hostile)
		}
	})
}

func TestExecSelectorRunsInParallelWithPrefixes(t *testing.T) {
	names := []string{"e2e-sel-a", "e2e-sel-b", "e2e-sel-c"}
	for _, n := range names {
		readyClaim(t, n, "-l", "e2e-sel=yes")
	}
	res := Sandbox(t, "exec", "-l", "e2e-sel=yes", "--router-url", routerURL, "--", "sh", "-c", "echo hi; echo oops >&2; exit 3").Run()
	if res.ExitCode != 3 {
		t.Errorf("exit %d", res.ExitCode)
	}
	for _, n := range names {
		if !strings.Contains(res.Stdout, "["+n+"] hi\n") || !strings.Contains(res.Stderr, "["+n+"] oops\n") {
			t.Errorf("no prefixed output for %s:\n%s\n%s", n, res.Stdout, res.Stderr)
		}
	}
	if strings.Count(res.Stdout, "\n") != 3 {
		t.Errorf("stdout %q", res.Stdout)
	}
	// Each sandbox prints when its command starts and ends. In parallel,
	// every start comes before every end; with --max-parallel 1, no two
	// runs overlap.
	spans := func(args ...string) [][2]float64 {
		t.Helper()
		res := Sandbox(t, append(append([]string{"exec", "-l", "e2e-sel=yes"}, args...),
			"--", "sh", "-c", "date +%s.%N; sleep 1; date +%s.%N")...).RunOrFail()
		var out [][2]float64
		for _, n := range names {
			var s [2]float64
			if _, err := fmt.Sscanf(strings.Join(prefixed(res.Stdout, n), " "), "%f %f", &s[0], &s[1]); err != nil {
				t.Fatalf("%s: %v in %q", n, err, res.Stdout)
			}
			out = append(out, s)
		}
		return out
	}
	par := spans()
	for _, a := range par {
		for _, b := range par {
			if a[0] >= b[1] {
				t.Errorf("not parallel: a run started at %.3f, after another ended at %.3f", a[0], b[1])
			}
		}
	}
	seq := spans("--max-parallel", "1")
	for i, a := range seq {
		for j, b := range seq {
			if i != j && a[0] < b[1] && b[0] < a[1] {
				t.Errorf("--max-parallel 1: runs %v and %v overlap", a, b)
			}
		}
	}
}

// prefixed returns the lines of out that carry [name], without the prefix.
func prefixed(out, name string) []string {
	var lines []string
	for _, l := range strings.Split(out, "\n") {
		if rest, ok := strings.CutPrefix(l, "["+name+"] "); ok {
			lines = append(lines, rest)
		}
	}
	return lines
}

// writeTree makes a directory tree of mixed files and returns their sums.
func writeTree(t *testing.T, root string) map[string]string {
	t.Helper()
	big := make([]byte, 3<<20)
	_, _ = rand.Read(big)
	files := map[string][]byte{
		"a.txt": []byte("hello\n"), "empty": nil, "bin/random.dat": big,
		"nested/deeper/x.json": []byte(`{"k": [1, 2]}`), "ünïcødé dir/名前 %41.txt": []byte("unicode\n"),
		"nested/with space.txt": []byte("sp"), "bin/nul.dat": {0, 1, 2, 0, 255},
	}
	for name, data := range files {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return sums(t, root)
}

func sums(t *testing.T, root string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		sum := sha256.Sum256(b)
		rel, _ := filepath.Rel(root, p)
		out[rel] = hex.EncodeToString(sum[:])
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestCpTreeRoundTrip(t *testing.T) {
	onPools(t, pythonPools, func(t *testing.T, p pool) {
		c := claimOn(t, p, "e2e-cp")
		src, dst := t.TempDir(), filepath.Join(t.TempDir(), "back")
		want := writeTree(t, src)
		Sandbox(t, "cp", src, c+":deep/upload/tree").RunOrFail()
		Sandbox(t, "cp", c+":deep/upload/tree", dst).RunOrFail()
		if got := sums(t, dst); !reflect.DeepEqual(got, want) {
			t.Fatalf("tree differs after a round trip\n got %v\nwant %v", got, want)
		}
		ls := Sandbox(t, "ls", c+":deep/upload/tree").RunOrFail().Stdout
		if !regexp.MustCompile(`(?s)^NAME\s+TYPE\s+SIZE\s+MODIFIED\na\.txt\s+file\s+6\s+\S+\nbin\s+directory`).MatchString(ls) {
			t.Errorf("ls:\n%s", ls)
		}
		if cat := Sandbox(t, "cat", c+":/app/deep/upload/tree/ünïcødé dir/名前 %41.txt").RunOrFail().Stdout; cat != "unicode\n" {
			t.Errorf("cat %q", cat)
		}
		// stdin and stdout
		Sandbox(t, "cp", "-", c+":streamed/in.txt").WithStdin(bytes.NewBufferString("from stdin")).RunOrFail()
		if out := Sandbox(t, "cp", c+":streamed/in.txt", "-").RunOrFail().Stdout; out != "from stdin" {
			t.Errorf("stdout copy %q", out)
		}
	})
}

// TestCpTreeProgressOnATerminal: on a terminal, a tree copy shows the files
// and bytes so far and the file being copied; the tree arrives whole.
func TestCpTreeProgressOnATerminal(t *testing.T) {
	c := readyClaim(t, "e2e-cp-tty")
	src := t.TempDir()
	chunk := make([]byte, 256<<10)
	for i := range 256 { // 64 MiB: long enough for several frames
		if _, err := rand.Read(chunk); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(src, fmt.Sprintf("f%03d.bin", i)), chunk, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	kubectlPath, _ := exec.LookPath("kubectl")
	line := fmt.Sprintf("%s sandbox cp %s %s:tty-tree", kubectlPath, src, c)
	transcript := (&Cmd{t: t}).runScript("script", "-qec", line, "/dev/null")
	if !regexp.MustCompile(`\d+ files?, [0-9.]+ [KM]iB: tty-tree/f\d{3}\.bin`).MatchString(transcript) {
		t.Errorf("no files and bytes in the terminal transcript %q", transcript)
	}
	if n := strings.TrimSpace(Sandbox(t, "exec", c, "--", "sh", "-c", "ls tty-tree | wc -l").RunOrFail().Stdout); n != "256" {
		t.Errorf("%s files arrived, want 256", n)
	}
}

func TestCpErrors(t *testing.T) {
	c := readyClaim(t, "e2e-cperr")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"cat", c + ":../../etc/passwd"}, "error: sandbox path \"../../etc/passwd\" is outside the runtime's root (/app, or /workspace on sandboxd), the only directory the sandbox runtime serves\n"},
		{[]string{"cp", c + ":/etc/passwd", "x"}, "error: sandbox path \"/etc/passwd\" is outside the runtime's root (/app, or /workspace on sandboxd), the only directory the sandbox runtime serves\n"},
		{[]string{"cp", c + ":missing.txt", filepath.Join(t.TempDir(), "m")}, "error: download missing.txt: HTTP 404: File not found: no such file or directory in the sandbox\n"},
		{[]string{"ls", c + ":nowhere"}, "error: " + c + ":/app/nowhere is not a directory in the sandbox\n"},
	} {
		res := Sandbox(t, tc.args...).Run()
		if res.ExitCode != 1 || res.Stderr != tc.want {
			t.Errorf("%v: exit %d stderr %q\nwant %q", tc.args, res.ExitCode, res.Stderr, tc.want)
		}
	}
	// A local write failure: the file exists in the sandbox, but the local
	// destination's folder does not.
	src := filepath.Join(t.TempDir(), "there.txt")
	if err := os.WriteFile(src, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	Sandbox(t, "cp", src, c+":there.txt").RunOrFail()
	res := Sandbox(t, "cp", c+":there.txt", "/nonexistent-dir/x").Run()
	if want := "error: writing /nonexistent-dir/x: no such file or directory\n"; res.ExitCode != 1 || res.Stderr != want {
		t.Errorf("exit %d stderr %q\nwant %q", res.ExitCode, res.Stderr, want)
	}
}

// TestCpLargeFileFlatMemory copies 200 MiB up and down and checks the
// plugin's peak RSS (kubectl execs the plugin in the same process).
func TestCpLargeFileFlatMemory(t *testing.T) {
	c := readyClaim(t, "e2e-large")
	dir := t.TempDir()
	src := filepath.Join(dir, "big.bin")
	f, err := os.Create(src)
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	if _, err := io.CopyN(io.MultiWriter(f, h), rand.Reader, 200<<20); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	want := hex.EncodeToString(h.Sum(nil))
	for _, dir := range []struct{ name, from, to string }{
		{"upload", src, c + ":big.bin"},
		{"download", c + ":big.bin", filepath.Join(dir, "back.bin")},
	} {
		cmd := Sandbox(t, "cp", dir.from, dir.to, "--router-url", routerURL).command()
		var errOut bytes.Buffer
		cmd.Stderr = &errOut
		if err := cmd.Run(); err != nil {
			t.Fatalf("%s: %v: %s", dir.name, err, errOut.String())
		}
		maxRSS := cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss // KiB
		t.Logf("%s of 200 MiB: peak RSS %d MiB", dir.name, maxRSS/1024)
		if maxRSS > 100*1024 {
			t.Errorf("%s of 200 MiB used %d MiB of memory: not streaming", dir.name, maxRSS/1024)
		}
	}
	b, err := os.ReadFile(filepath.Join(dir, "back.bin"))
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	if hex.EncodeToString(sum[:]) != want {
		t.Fatal("the 200 MiB file changed on the way")
	}
}

func TestDataPlaneErrors(t *testing.T) {
	cleanupClaim(t, "e2e-notready")
	Sandbox(t, "create", "e2e-notready", "--pool", "no-such-pool", "--wait=false").RunOrFail()
	c := readyClaim(t, "e2e-errs")
	// A Gateway of a class no controller serves: never Programmed.
	gw := `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: e2e-no-address, namespace: default}
spec:
  gatewayClassName: local
  listeners: [{name: http, protocol: HTTP, port: 80}]
`
	Kubectl(t, "apply", "-f", "-").WithStdin(bytes.NewBufferString(gw)).RunOrFail()
	t.Cleanup(func() { Kubectl(t, "delete", "gateway", "e2e-no-address", "--ignore-not-found").Run() })
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"exec", "e2e-notready", "--", "true"}, `error: sandboxclaim "e2e-notready" is not Ready`},
		{[]string{"exec", "e2e-absent", "--", "true"}, `error: sandboxclaim "e2e-absent" not found in namespace "default"`},
		{[]string{"exec", c, "--gateway", "no-gateway", "--", "true"}, `error: gateway "no-gateway" not found in namespace "default": check --gateway and --gateway-namespace`},
		{[]string{"exec", c, "--gateway", "e2e-no-address", "--gateway-timeout", "2s", "--", "true"}, "error: gateway default/e2e-no-address is not Programmed after 2s ("},
		{[]string{"exec", c, "--router-url", "http://127.0.0.11:80", "--", "true"}, "error: execute: cannot reach the sandbox router: "},
		{[]string{"exec", c, "--router-namespace", "kube-system", "--", "true"}, "error: cannot port-forward to the sandbox router: no service sandbox-router-svc in namespace kube-system"},
		{[]string{"exec", c, "--router-url", routerURL, "--gateway", gatewayName, "--", "true"}, "error: --router-url and --gateway cannot be used together"},
		{[]string{"exec", c, "--router-url", "http://router.example.com", "--router-token", "t", "--", "true"}, "error: refusing to send the router token over plain http to router.example.com"},
	} {
		res := Sandbox(t, tc.args...).Run()
		if res.ExitCode != 1 || !strings.HasPrefix(res.Stderr, tc.want) || strings.Count(res.Stderr, "\n") != 1 {
			t.Errorf("%v: exit %d stderr %q\nwant prefix %q", tc.args, res.ExitCode, res.Stderr, tc.want)
		}
	}
}

// TestEnvReachesTheSandbox: --env forces a cold start (with a warning) and
// the variable reaches the sandbox's commands.
func TestEnvReachesTheSandbox(t *testing.T) {
	res := Sandbox(t, "run", "--pool", "python", "--env", "GREETING=hello there", "-l", "e2e-run=env", "--", "printenv", "GREETING").RunOrFail()
	if res.Stdout != "hello there\n" || res.Stderr != "Warning: --env forces a cold start: the claim cannot adopt a warm sandbox\n" {
		t.Errorf("stdout %q stderr %q", res.Stdout, res.Stderr)
	}
}

// TestRouterTokenIsNeverPrinted: even at -v=10 the token stays out of the output.
func TestRouterTokenIsNeverPrinted(t *testing.T) {
	c := readyClaim(t, "e2e-token")
	const token = "s3cr3t-t0ken-value"
	for _, args := range [][]string{
		// The router's Service address is not loopback: plain http needs the
		// user's word that the network is trusted.
		{"exec", c, "--router-url", routerURL, "--router-token", token, "--router-allow-insecure-token", "-v=10", "--", "true"},
		{"exec", c, "-v=10", "--", "true"}, // port-forward mode, token from the environment
	} {
		res := Sandbox(t, args...).WithEnv("KUBECTL_SANDBOX_ROUTER_TOKEN=" + token).RunOrFail()
		if strings.Contains(res.Stdout+res.Stderr, token) {
			t.Errorf("%v printed the router token", args)
		}
	}
}
