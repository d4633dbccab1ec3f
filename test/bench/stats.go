package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sort"
	"strings"
	"syscall"
	"time"
)

// sample is one timed run of a command.
type sample struct {
	dur    time.Duration
	maxRSS int64 // KiB
	cpu    time.Duration
}

// run times one shell-free command; it fails loudly, since a benchmark of
// a failing command measures nothing.
func run(env []string, name string, args ...string) sample {
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), env...)
	var errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = nil, &errOut
	start := time.Now()
	if err := cmd.Run(); err != nil {
		fail("%s %v: %v\n%s", name, args, err, errOut.String())
	}
	d := time.Since(start)
	return sample{dur: d, maxRSS: cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss,
		cpu: cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()}
}

// medianCPU is the CPU time of the run with the median duration.
func medianCPU(s []sample) time.Duration {
	sorted := append([]sample(nil), s...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].dur < sorted[j].dur })
	return sorted[len(sorted)/2].cpu
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "bench: "+format+"\n", args...)
	panic(failure{})
}

// failure is fail's panic: it unwinds the stack, so that the deferred
// clean-ups of the parts under way (claims deleted, say) run, and main's
// exitOnFailure ends the run with status 1.
type failure struct{}

// exitOnFailure, deferred first in main, turns fail's panic into exit 1.
func exitOnFailure() {
	if r := recover(); r != nil {
		if _, ok := r.(failure); !ok {
			panic(r)
		}
		os.Exit(1)
	}
}

// pair runs a and b interleaved (A B A B ...) after warm-up runs, with
// untimed setup before each run.
func pair(n, warmup int, setup func(), a, b func() sample) (as, bs []sample) {
	for i := 0; i < warmup+n; i++ {
		if setup != nil {
			setup()
		}
		sa := a()
		if setup != nil {
			setup()
		}
		sb := b()
		if i >= warmup {
			as, bs = append(as, sa), append(bs, sb)
		}
	}
	return as, bs
}

// dist is the median and quartiles of durations.
type dist struct{ p25, median, p75 time.Duration }

func durations(s []sample) dist {
	d := make([]time.Duration, len(s))
	for i := range s {
		d[i] = s[i].dur
	}
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	q := func(f float64) time.Duration { return d[int(f*float64(len(d)-1)+0.5)] }
	return dist{q(0.25), q(0.5), q(0.75)}
}

func (d dist) String() string {
	return fmt.Sprintf("%s (%s–%s)", ms(d.median), ms(d.p25), ms(d.p75))
}

func ms(d time.Duration) string {
	if d >= 10*time.Second {
		return fmt.Sprintf("%.1f s", d.Seconds())
	}
	return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000)
}

func maxRSS(s []sample) int64 {
	var m int64
	for _, x := range s {
		if x.maxRSS > m {
			m = x.maxRSS
		}
	}
	return m
}

// runtimeStartup reads the log of a python runtime's container (kubectl
// logs --timestamps: containerd stamps each line as it arrives) and returns
// the time from its first line (the process has started) to the first
// readiness probe it answered (the kubelet's GET / with 200).
func runtimeStartup(logs string) (time.Duration, bool) {
	var first time.Time
	for _, line := range strings.Split(logs, "\n") {
		stamp, text, ok := strings.Cut(line, " ")
		if !ok {
			continue
		}
		t, err := time.Parse(time.RFC3339Nano, stamp)
		if err != nil {
			continue
		}
		if first.IsZero() {
			first = t
		}
		if strings.Contains(text, `"GET / HTTP/1.1" 200`) {
			return t.Sub(first), true
		}
	}
	return 0, false
}

// runFirstByte times one command to the first byte of its stdout (dur) and
// runs it to its end; it fails loudly like run.
func runFirstByte(env []string, name string, args ...string) sample {
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), env...)
	var errOut bytes.Buffer
	cmd.Stderr = &errOut
	out, err := cmd.StdoutPipe()
	if err != nil {
		fail("%v", err)
	}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		fail("%s %v: %v", name, args, err)
	}
	one := make([]byte, 1)
	if _, err := io.ReadFull(out, one); err != nil {
		fail("%s %v: no output: %v\n%s", name, args, err, errOut.String())
	}
	d := time.Since(start)
	_, _ = io.Copy(io.Discard, out)
	if err := cmd.Wait(); err != nil {
		fail("%s %v: %v\n%s", name, args, err, errOut.String())
	}
	return sample{dur: d, maxRSS: cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss}
}
