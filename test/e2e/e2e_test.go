//go:build e2e

// Package e2e drives the built kubectl-sandbox binary through the real
// kubectl (plugin discovery on PATH) against the local cluster.
package e2e

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var (
	repoRoot   string
	kubeconfig string
)

// TestMain starts the local cluster unless it already runs, and stops it
// afterwards only if it started it. E2E_REUSE_CLUSTER=1 insists on a running
// cluster instead.
func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	wd, _ := os.Getwd()
	repoRoot = filepath.Clean(filepath.Join(wd, "..", ".."))
	kubeconfig = filepath.Join(repoRoot, "_output", "cluster", "kubeconfig")
	if _, err := os.Stat(filepath.Join(repoRoot, "bin", "kubectl-sandbox")); err != nil {
		fmt.Fprintln(os.Stderr, "e2e: bin/kubectl-sandbox is missing: run `make e2e`, which builds it")
		return 1
	}
	running := script("hack/cluster-status.sh").Run() == nil
	switch {
	case running:
		fmt.Fprintln(os.Stderr, "e2e: reusing the running local cluster")
	case os.Getenv("E2E_REUSE_CLUSTER") != "":
		fmt.Fprintln(os.Stderr, "e2e: E2E_REUSE_CLUSTER is set but no local cluster runs")
		return 1
	default:
		up := script("hack/cluster-up.sh")
		up.Stdout, up.Stderr = os.Stderr, os.Stderr
		if err := up.Run(); err != nil {
			fmt.Fprintf(os.Stderr, "e2e: starting the local cluster: %v\n", err)
			stopCluster()
			return 1
		}
		defer stopCluster()
	}
	return m.Run()
}

func script(path string, args ...string) *exec.Cmd {
	cmd := exec.Command(filepath.Join(repoRoot, path), args...)
	cmd.Dir = repoRoot
	return cmd
}

func stopCluster() {
	down := script("hack/cluster-down.sh")
	down.Stdout, down.Stderr = os.Stderr, os.Stderr
	if err := down.Run(); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: stopping the local cluster: %v\n", err)
	}
}

// TestPluginDiscovery: kubectl finds the plugin on PATH and runs it. It is
// the first test (this file sorts first).
func TestPluginDiscovery(t *testing.T) {
	list := Kubectl(t, "plugin", "list").Run()
	if !strings.Contains(list.Stdout, "kubectl-sandbox") {
		t.Fatalf("kubectl plugin list does not show kubectl-sandbox:\n%s%s", list.Stdout, list.Stderr)
	}
	res := Sandbox(t, "version").RunOrFail()
	if !strings.HasPrefix(res.Stdout, "Client Version: ") ||
		!strings.HasSuffix(res.Stdout, "\nServer agent-sandbox APIs: agents.x-k8s.io v1alpha1,v1beta1; extensions.agents.x-k8s.io v1alpha1,v1beta1\n") {
		t.Fatalf("unexpected version output %q", res.Stdout)
	}
	res = Sandbox(t, "version", "-o", "json").RunOrFail()
	var v struct {
		ClientVersion struct{ Version, Platform string }
	}
	if err := json.Unmarshal([]byte(res.Stdout), &v); err != nil || v.ClientVersion.Version == "" {
		t.Fatalf("version -o json: %v: %q", err, res.Stdout)
	}
}

// Cmd is one invocation of the real kubectl, with bin/ first on PATH so that
// kubectl finds the plugin under test.
type Cmd struct {
	t     *testing.T
	args  []string
	stdin io.Reader
	env   []string
}

// Result is what a command printed and how it exited.
type Result struct {
	Stdout, Stderr string
	ExitCode       int
}

// Kubectl prepares `kubectl ARGS...`.
func Kubectl(t *testing.T, args ...string) *Cmd {
	return &Cmd{t: t, args: args}
}

// Sandbox prepares `kubectl sandbox ARGS...`.
func Sandbox(t *testing.T, args ...string) *Cmd {
	return Kubectl(t, append([]string{"sandbox"}, args...)...)
}

// WithStdin feeds r to the command.
func (c *Cmd) WithStdin(r io.Reader) *Cmd { c.stdin = r; return c }

// WithEnv adds KEY=VALUE pairs to the command's environment.
func (c *Cmd) WithEnv(kv ...string) *Cmd { c.env = append(c.env, kv...); return c }

func (c *Cmd) command() *exec.Cmd {
	cmd := exec.Command("kubectl", c.args...)
	cmd.Env = append(os.Environ(),
		"KUBECONFIG="+kubeconfig,
		"PATH="+filepath.Join(repoRoot, "bin")+string(os.PathListSeparator)+os.Getenv("PATH"))
	cmd.Env = append(cmd.Env, c.env...)
	cmd.Stdin = c.stdin
	return cmd
}

// Run runs the command and returns its result; a failure to start fails the test.
func (c *Cmd) Run() Result {
	c.t.Helper()
	cmd := c.command()
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	start := time.Now()
	err := cmd.Run()
	res := Result{Stdout: out.String(), Stderr: errOut.String()}
	var exitErr *exec.ExitError
	switch {
	case errors.As(err, &exitErr):
		res.ExitCode = exitErr.ExitCode()
	case err != nil:
		c.t.Fatalf("kubectl %s: %v", strings.Join(c.args, " "), err)
	}
	c.t.Logf("kubectl %s -> exit %d in %s", strings.Join(c.args, " "), res.ExitCode, time.Since(start).Round(time.Millisecond))
	return res
}

// RunOrFail runs the command and fails the test unless it exits 0.
func (c *Cmd) RunOrFail() Result {
	c.t.Helper()
	res := c.Run()
	if res.ExitCode != 0 {
		c.t.Fatalf("kubectl %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(c.args, " "), res.ExitCode, res.Stdout, res.Stderr)
	}
	return res
}

// runScript runs an arbitrary program with the environment kubectl gets
// (KUBECONFIG, bin/ on PATH) and returns its combined output.
func (c *Cmd) runScript(name string, args ...string) string {
	c.t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = c.command().Env
	out, err := cmd.CombinedOutput()
	if err != nil {
		c.t.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
	return string(out)
}
