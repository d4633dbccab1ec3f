//go:build e2e

package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestClusterDownLeavesNothing (the last test: this file sorts last):
// hack/cluster-down.sh stops the local cluster and leaves behind no
// process of it, no mount, no network device or route, no iptables rule,
// no cgroup and no file outside _output, and containerd keeps no container
// or task of the node. Then hack/cluster-up.sh starts it again, warm.
func TestClusterDownLeavesNothing(t *testing.T) {
	down := script("hack/cluster-down.sh")
	out, err := down.CombinedOutput()
	if err != nil {
		t.Fatalf("cluster-down: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "containerd keeps 0 containers, 0 tasks of the node\n") ||
		!strings.HasSuffix(string(out), "local cluster is down\n") {
		t.Errorf("cluster-down printed:\n%s", out)
	}
	output := filepath.Join(repoRoot, "_output")

	// Processes: none runs a binary of ours or names our folders.
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		if e.Name() == "self" || strings.Trim(e.Name(), "0123456789") != "" {
			continue
		}
		exe, _ := os.Readlink(filepath.Join("/proc", e.Name(), "exe"))
		cmd, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		cg, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "cgroup"))
		if strings.HasPrefix(exe, output) || strings.Contains(string(cmd), filepath.Join(output, "cluster")) ||
			strings.Contains(string(cg), "/kubectl-sandbox/") {
			t.Errorf("process %s is left: %s %q", e.Name(), exe, strings.ReplaceAll(string(cmd), "\x00", " "))
		}
	}
	// Mounts of this namespace.
	mi, _ := os.ReadFile("/proc/self/mountinfo")
	for _, l := range strings.Split(string(mi), "\n") {
		if strings.Contains(l, output) || strings.Contains(l, "kubectl-sandbox") {
			t.Errorf("mount left: %s", l)
		}
	}
	// Network devices and routes.
	links, _ := exec.Command("ip", "-o", "link", "show").Output()
	for _, dev := range []string{"sbx-node0", "cni0", "veth"} {
		if strings.Contains(string(links), dev) {
			t.Errorf("a network device %s* is left:\n%s", dev, links)
		}
	}
	routes, _ := exec.Command("ip", "route", "show").Output()
	for _, r := range []string{"10.244.0.0/24", "10.96.0.0/16", "10.200.0.0/30"} {
		if strings.Contains(string(routes), r) {
			t.Errorf("route %s is left:\n%s", r, routes)
		}
	}
	// iptables rules: the kubelet's, kube-proxy's and the CNI plugins' chains
	// never reach this namespace.
	if rules, err := exec.Command("iptables-save").Output(); err == nil {
		for _, chain := range []string{"KUBE-", "CNI-"} {
			if strings.Contains(string(rules), chain) {
				t.Errorf("iptables rules %s* are in this machine's tables:\n%s", chain, rules)
			}
		}
	} else {
		t.Errorf("iptables-save: %v", err)
	}
	// cgroups.
	if m, _ := filepath.Glob("/sys/fs/cgroup/*/kubectl-sandbox"); len(m) != 0 {
		t.Errorf("cgroups left: %v", m)
	}
	// Files the kubelet and containerd write to fixed paths.
	for _, p := range []string{"/run/containerd", "/var/lib/kubelet", "/var/log/containers", "/var/log/pods", "/var/lib/cni", "/opt/containerd"} {
		if _, err := os.Lstat(p); err == nil {
			t.Errorf("%s is left on this machine", p)
		}
	}

	start := time.Now()
	up := script("hack/cluster-up.sh")
	if out, err := up.CombinedOutput(); err != nil {
		t.Fatalf("cluster-up after cluster-down: %v\n%s", err, out)
	}
	t.Logf("RESULT a warm cluster-up after cluster-down took %s", time.Since(start).Round(100*time.Millisecond))
}
