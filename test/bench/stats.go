package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
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
	os.Exit(1)
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

// runtimeStartup is the median time, from the local cluster's podruntime
// log, between starting the runtime of a pod named prefix* and its readiness
// probe answering.
func runtimeStartup(prefix string) time.Duration {
	b, err := os.ReadFile("_output/cluster/logs/podruntime.log")
	if err != nil {
		return 0
	}
	re := regexp.MustCompile(`^I\d{4} (\d\d:\d\d:\d\d\.\d+)\s+\d+ runtime\.go:\d+\] pod default/(` + regexp.QuoteMeta(prefix) + `\S*): (runtime pid|ready=true)`)
	started := map[string]time.Time{}
	var d []sample
	for _, line := range strings.Split(string(b), "\n") {
		m := re.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		t, err := time.Parse("15:04:05.000000", m[1])
		if err != nil {
			continue
		}
		if m[3] == "runtime pid" {
			started[m[2]] = t
		} else if s, ok := started[m[2]]; ok {
			d = append(d, sample{dur: t.Sub(s)})
			delete(started, m[2])
		}
	}
	if len(d) == 0 {
		return 0
	}
	return durations(d).median
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
