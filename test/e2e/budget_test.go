//go:build e2e

package e2e

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestExecMaxOutput: --max-output keeps the head and the tail of each
// stream with a marker between, on both runtimes (buffered on the python
// runtime, streamed on sandboxd), and -o json says "truncated": true.
func TestExecMaxOutput(t *testing.T) {
	// 1,000 lines "line-0001".."line-1000" on stdout, the same count of "e"s
	// on stderr.
	script := []string{"--", "sh", "-c", `i=1; while [ $i -le 1000 ]; do printf 'line-%04d\n' $i; i=$((i+1)); done; head -c 1000 /dev/zero | tr '\0' e >&2`}
	// 120 bytes: 60 of the head, 60 of the tail.
	wantOut := "line-0001\nline-0002\nline-0003\nline-0004\nline-0005\nline-0006\n" +
		"\n[... 9880 bytes omitted ...]\n" +
		"line-0995\nline-0996\nline-0997\nline-0998\nline-0999\nline-1000\n"
	wantErr := strings.Repeat("e", 60) + "\n[... 880 bytes omitted ...]\n" + strings.Repeat("e", 60)
	for _, pool := range []string{"python", "sandboxd"} {
		t.Run(pool, func(t *testing.T) {
			c := readyClaim(t, "e2e-budget-"+pool, "--pool", pool, "-l", "e2e-budget=1")
			got := Sandbox(t, append([]string{"exec", c, "--max-output", "120"}, script...)...).RunOrFail()
			if got.Stdout != wantOut {
				t.Errorf("stdout %q\nwant   %q", got.Stdout, wantOut)
			}
			if got.Stderr != wantErr {
				t.Errorf("stderr %q\nwant   %q", got.Stderr, wantErr)
			}
			js := Sandbox(t, append([]string{"exec", c, "--max-output", "120", "-o", "json"}, script...)...).RunOrFail()
			var r struct {
				Stdout, Stderr string
				ExitCode       int
				Truncated      bool
			}
			if err := json.Unmarshal([]byte(js.Stdout), &r); err != nil || r.Stdout != wantOut || r.Stderr != wantErr || !r.Truncated {
				t.Errorf("-o json: %v %+v", err, r)
			}
			js = Sandbox(t, "exec", c, "--max-output", "120", "-o", "json", "--", "echo", "short").RunOrFail()
			if strings.Contains(js.Stdout, "truncated") {
				t.Errorf("-o json of a short output: %s", js.Stdout)
			}
		})
	}
}

// TestExecSelectorJSONLines: exec -l -o json prints one JSON object per
// sandbox, each as soon as its command ends.
func TestExecSelectorJSONLines(t *testing.T) {
	fast := readyClaim(t, "e2e-jsonl-fast", "-l", "e2e-jsonl=1")
	slow := readyClaim(t, "e2e-jsonl-slow", "-l", "e2e-jsonl=1")
	Sandbox(t, "exec", slow, "--", "touch", "slow").RunOrFail()
	start := time.Now()
	lines := startLong(t, "exec", "-l", "e2e-jsonl=1", "-o", "json", "--", "sh", "-c", "if [ -e slow ]; then sleep 3; fi; echo done")
	var got []string
	for i := 0; i < 2; i++ {
		var r struct {
			Claim, Stdout string
			ExitCode      int
		}
		line := lines.line(20 * time.Second)
		if err := json.Unmarshal([]byte(line), &r); err != nil || r.Stdout != "done\n" || r.ExitCode != 0 {
			t.Fatalf("line %d %q: %v", i, line, err)
		}
		if i == 0 && time.Since(start) > 2500*time.Millisecond {
			t.Errorf("the first line came after %s: not before the slow sandbox ended", time.Since(start))
		}
		got = append(got, r.Claim)
	}
	if want := []string{fast, slow}; !slices.Equal(got, want) {
		t.Errorf("lines for %q, want %q (the fast one first)", got, want)
	}
}
