package cmd

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/sandbox"
)

// TestExecMaxOutput: on the python runtime (output buffered), --max-output
// keeps the head and the tail of stdout and of stderr each, cut at
// character boundaries, with a marker between, and -o json says
// "truncated": true only when it left bytes out.
func TestExecMaxOutput(t *testing.T) {
	f, r, router := dataPlane(t)
	r.Exec = func(id string, argv []string) (string, string, int) {
		if argv[0] == "short" {
			return "ok\n", "", 0
		}
		return "0123456789", "aé" + strings.Repeat("x", 10) + "éb", 2
	}
	for _, tc := range []struct {
		args        []string
		out, errOut string
		code        int
	}{
		{args: []string{"a", "--max-output", "4", "--", "long"},
			out: "01\n[... 6 bytes omitted ...]\n89", errOut: "a\n[... 14 bytes omitted ...]\nb", code: 2},
		{args: []string{"a", "--max-output", "6", "-o", "json", "--", "long"},
			out: `{"stdout":"012\n[... 4 bytes omitted ...]\n789","stderr":"aé\n[... 10 bytes omitted ...]\néb","exitCode":2,"truncated":true}` + "\n", code: 2},
		// Within the budget: no marker, and no "truncated" key.
		{args: []string{"a", "--max-output", "100", "-o", "json", "--", "long"},
			out: `{"stdout":"0123456789","stderr":"aé` + strings.Repeat("x", 10) + `éb","exitCode":2}` + "\n", code: 2},
		{args: []string{"a", "--max-output", "3", "-o", "json", "--", "short"},
			out: `{"stdout":"ok\n","stderr":"","exitCode":0}` + "\n"},
		// 0 keeps everything.
		{args: []string{"a", "--max-output", "0", "--", "long"},
			out: "0123456789", errOut: "aé" + strings.Repeat("x", 10) + "éb", code: 2},
		// -l -o json: each line says what its budget left out.
		{args: []string{"-l", "team=x", "--max-output", "2", "-o", "json", "--", "short"},
			out: `{"claim":"a","stdout":"o\n[... 1 bytes omitted ...]\n\n","stderr":"","exitCode":0,"truncated":true}` + "\n", code: -1},
	} {
		res := runWith(t, f, NewCmdExec, "", append(router, tc.args...))
		code := 0
		var exit *ExitError
		if errors.As(res.err, &exit) {
			code = exit.Code
		} else if res.err != nil {
			t.Errorf("%q: %v", tc.args, res.err)
		}
		if tc.code == -1 {
			// Two sandboxes, in the order they finish.
			b := strings.Replace(tc.out, `"claim":"a"`, `"claim":"b"`, 1)
			if res.out != tc.out+b && res.out != b+tc.out || code != 0 {
				t.Errorf("%q: out %q code %d; want %q and %q", tc.args, res.out, code, tc.out, b)
			}
			continue
		}
		if res.out != tc.out || res.errOut != tc.errOut || code != tc.code {
			t.Errorf("%q: got out %q err %q code %d\nwant %q %q %d", tc.args, res.out, res.errOut, code, tc.out, tc.errOut, tc.code)
		}
	}
}

// TestExecMaxOutputNegative: a negative budget is refused before any call
// to the API or the router.
func TestExecMaxOutputNegative(t *testing.T) {
	f, r, router := dataPlane(t)
	for _, args := range [][]string{
		{"a", "--max-output", "-1", "--", "echo"},
		{"-l", "team=x", "--max-output", "-5", "-o", "json", "--", "echo"},
	} {
		res := runWith(t, f, NewCmdExec, "", append(router, args...))
		if res.err == nil || res.err.Error() != "--max-output must not be negative" {
			t.Errorf("%q: %v", args, res.err)
		}
		if acts := f.ext.Actions(); len(acts) != 0 {
			t.Errorf("%q: reached the API: %v", args, acts)
		}
		if reqs := r.Requests(); len(reqs) != 0 {
			t.Errorf("%q: reached the router: %d requests", args, len(reqs))
		}
	}
}

// TestStreamWithinBudget: on a streaming runtime (sandboxd), --max-output
// passes the head of each stream on as it comes, never cutting a
// character however the chunks split it, and writes the marker and the
// tail when the command ends; the command's exit code is kept.
func TestStreamWithinBudget(t *testing.T) {
	ios, _, out, errOut := genericiooptions.NewTestIOStreams()
	var early string
	st := &fakeStreamer{run: func(_ context.Context, s sandbox.Streams) (int, error) {
		for _, chunk := range []string{"ab\xc3", "\xa9cdefgh", "ij\xe6\x97", "\xa5"} {
			_, _ = io.WriteString(s.Stdout, chunk)
		}
		early = out.String()
		_, _ = io.WriteString(s.Stderr, "warn\n")
		return 5, nil
	}}
	err := attach(context.Background(), st, sandbox.Command{Argv: []string{"x"}}, ios, false, sandbox.IO{Budget: 8})
	var exit *ExitError
	if !errors.As(err, &exit) || exit.Code != 5 {
		t.Errorf("err %v, want exit code 5", err)
	}
	if early != "abé" {
		t.Errorf("before the command ended: %q, want the head \"abé\"", early)
	}
	if want := "abé\n[... 7 bytes omitted ...]\nj日"; out.String() != want || errOut.String() != "warn\n" {
		t.Errorf("stdout %q stderr %q; want %q, \"warn\\n\"", out.String(), errOut.String(), want)
	}
	// No budget: every byte comes as it is written.
	out.Reset()
	st.run = func(_ context.Context, s sandbox.Streams) (int, error) {
		_, _ = io.WriteString(s.Stdout, "ab\xc3")
		if out.String() != "ab\xc3" {
			t.Errorf("without a budget, stdout holds %q once the command wrote \"ab\\xc3\"", out.String())
		}
		return 0, nil
	}
	if err := attach(context.Background(), st, sandbox.Command{Argv: []string{"x"}}, ios, false, sandbox.IO{}); err != nil {
		t.Error(err)
	}
}
