package main

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"time"
)

func (b *bench) report(started time.Time) string {
	var s strings.Builder
	s.WriteString("# Benchmarks\n\n")
	s.WriteString("Written by `make bench` (`test/bench`): each comparison runs as interleaved pairs (A B A B ...) after warm-up runs, ")
	s.WriteString("on the local cluster (`make cluster-up`). Times are medians with the 25th–75th percentiles in brackets; ")
	s.WriteString("the ratio is plugin median / baseline median (for copies: plugin throughput / curl throughput). ")
	s.WriteString("The machine is shared and noisy: ratios count, absolute times do not. ")
	s.WriteString("Plugin commands run the binary directly, as an agent would; one row shows the extra cost of going through `kubectl`'s plugin dispatch.\n\n")
	s.WriteString("| measure | plugin | baseline | ratio | target | met |\n|---|---|---|---|---|---|\n")
	for _, r := range b.rows {
		target := r.target
		if strings.Contains(r.measure, "no target") {
			target, r.met = "—", "—"
		}
		fmt.Fprintf(&s, "| %s | %s | %s | %s | %s | %s |\n", r.measure, r.plugin, r.baseline, r.ratio, target, r.met)
	}
	s.WriteString("\nBaselines: `curl` sends the same request to the same router (its Service, 10.96.0.10:8080) with the sandbox's name and pod IP already known; ")
	s.WriteString("`kubectl create -f claim.yaml && kubectl wait --for=condition=Ready` for creation; `kubectl get sandboxclaims` for listing. ")
	s.WriteString("Before every creation, untimed, the previous claim is deleted and the warm pool is back to 2 ready sandboxes.\n\n")
	for _, sec := range b.sections {
		s.WriteString(sec + "\n")
	}
	if len(b.notes) > 0 {
		s.WriteString("## Notes on the results\n\n")
		for _, n := range b.notes {
			s.WriteString("- " + n + "\n")
		}
		s.WriteString("\n")
	}
	s.WriteString("## Machine and versions\n\n")
	fmt.Fprintf(&s, "- date: %s (run took %s)\n", started.UTC().Format(time.RFC3339), time.Since(started).Round(time.Second))
	fmt.Fprintf(&s, "- machine: %s, %d CPUs, %s\n", cpuModel(), runtime.NumCPU(), memTotal())
	fmt.Fprintf(&s, "- Go: %s\n", runtime.Version())
	fmt.Fprintf(&s, "- plugin: %s\n", strings.TrimPrefix(b.sh(b.plugin+" version --client"), "Client Version: "))
	fmt.Fprintf(&s, "- kubectl: %s\n", b.sh("kubectl version --client | head -1"))
	fmt.Fprintf(&s, "- cluster: %s; agent-sandbox v0.5.6 controller, sandbox-router and sandboxd; one real node (kubelet, containerd, runc); upstream python runtime\n", b.sh("kubectl version 2>/dev/null | sed -n 's/Server Version: //p'"))
	return s.String()
}

func cpuModel() string {
	b, _ := os.ReadFile("/proc/cpuinfo")
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "model name") {
			_, v, _ := strings.Cut(l, ":")
			return strings.TrimSpace(v)
		}
	}
	return runtime.GOARCH
}

func memTotal() string {
	b, _ := os.ReadFile("/proc/meminfo")
	var kb int64
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "MemTotal:") {
			_, _ = fmt.Sscanf(strings.TrimPrefix(l, "MemTotal:"), "%d", &kb)
		}
	}
	return fmt.Sprintf("%.0f GiB RAM", float64(kb)/(1<<20))
}
