//go:build e2e

package e2e

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// The local cluster's node is a real kubelet with containerd and runc
// (hack/lib/node.sh): these helpers find a pod's container on it.

// containerID is the ID of the first container of pod (namespace default),
// as its status names it without the "containerd://" prefix; the test
// fails unless containerd runs it.
func containerID(t *testing.T, pod string) string {
	t.Helper()
	id := Kubectl(t, "get", "pod", pod, "-o", "jsonpath={.status.containerStatuses[0].containerID}").RunOrFail().Stdout
	id, ok := strings.CutPrefix(id, "containerd://")
	if !ok || id == "" {
		t.Fatalf("pod %s: container ID %q, want containerd://...", pod, id)
	}
	return id
}

// containerProcs lists the host PIDs of the processes of a container: the
// kubelet's cgroupfs layout puts them in
// .../kubepods/[QOS/]pod<UID>/<container ID> of each hierarchy.
func containerProcs(t *testing.T, id string) []int {
	t.Helper()
	var dirs []string
	for _, pattern := range []string{
		"/sys/fs/cgroup/pids/kubectl-sandbox/kubepods/*/" + id,
		"/sys/fs/cgroup/pids/kubectl-sandbox/kubepods/*/*/" + id,
	} {
		m, _ := filepath.Glob(pattern)
		dirs = append(dirs, m...)
	}
	if len(dirs) != 1 {
		t.Fatalf("container %s: cgroups %v, want one", id, dirs)
	}
	b, err := os.ReadFile(filepath.Join(dirs[0], "cgroup.procs"))
	if err != nil {
		t.Fatal(err)
	}
	var pids []int
	for _, f := range strings.Fields(string(b)) {
		if pid, err := strconv.Atoi(f); err == nil {
			pids = append(pids, pid)
		}
	}
	return pids
}

// containerInit is the host PID of a container's first process (its PID 1).
func containerInit(t *testing.T, id string) int {
	t.Helper()
	for _, pid := range containerProcs(t, id) {
		b, _ := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "status"))
		for _, l := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(l, "NSpid:"); ok {
				if f := strings.Fields(v); len(f) > 0 && f[len(f)-1] == "1" {
					return pid
				}
			}
		}
	}
	t.Fatalf("container %s has no PID 1", id)
	return 0
}
