package python

import (
	"bufio"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"reflect"
	"sync"
	"testing"

	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/python/pythontest"
)

// hostileArgs are arguments that a naive join would mangle.
var hostileArgs = [][]string{
	{"echo", "hello world"},
	{"printf", "%s\\n", "it's", `"double"`, `back\slash`, `\\`, `\'`},
	{"sh", "-c", "echo $HOME && echo `id` | cat; exit 3"},
	{"echo", "line1\nline2", "tab\there", "cr\rx"},
	{"echo", "ünïcødé", "日本語", "emoji 🎉"},
	{"echo", "", "", "empty args"},
	{"--leading-dash", "-n", "--", "-"},
	{"echo", "*", "?", "[a]", "~", "#comment", "a;b", "a|b", "a&b", "(x)", "{y}", "<in", ">out"},
	{"echo", "'", "''", `"`, `'"'"'`},
	{"echo", "trailing space ", " leading", "  "},
	{"x=1", "@at", "%pct", "+plus", ",comma", "a:b", "./rel", "/abs"},
}

// shlexScript answers each line on stdin, the JSON body of a POST
// /execute, with the JSON of what the runtime makes of its command:
// shlex.split (POSIX mode), or the error.
const shlexScript = `
import json, shlex, sys
for line in iter(sys.stdin.buffer.readline, b""):
    try:
        out = {"argv": shlex.split(json.loads(line)["command"])}
    except Exception as e:
        out = {"error": repr(e)}
    sys.stdout.write(json.dumps(out) + "\n")
    sys.stdout.flush()
`

// realShlex is one long-lived python3 running shlexScript, shared by the
// tests and fuzz inputs of this process; TestMain stops it.
var realShlex struct {
	once sync.Once
	err  error

	mu  sync.Mutex
	cmd *exec.Cmd
	in  io.WriteCloser
	out *bufio.Reader
}

func startShlex() {
	p := &realShlex
	p.cmd = exec.Command("/usr/bin/python3", "-c", shlexScript)
	p.cmd.Stderr = os.Stderr
	if p.in, p.err = p.cmd.StdinPipe(); p.err != nil {
		return
	}
	stdout, err := p.cmd.StdoutPipe()
	if err != nil {
		p.err = err
		return
	}
	p.out = bufio.NewReader(stdout)
	p.err = p.cmd.Start()
}

// stopShlex ends the python3, if one was started.
func stopShlex() {
	p := &realShlex
	p.once.Do(func() { p.err = errors.New("stopped") })
	if p.err == nil {
		_ = p.in.Close() // python3 ends at the end of its input
		_ = p.cmd.Wait()
		p.err = errors.New("stopped")
	}
}

// runtimeSplit returns the argv that the python runtime makes of the
// command Execute sends: the same JSON body, decoded and split by the real
// json and shlex modules of /usr/bin/python3.
func runtimeSplit(t testing.TB, command string) []string {
	t.Helper()
	p := &realShlex
	p.once.Do(startShlex)
	if p.err != nil {
		t.Fatalf("the real shlex needs /usr/bin/python3: %v", p.err)
	}
	body, err := json.Marshal(map[string]string{"command": command}) // as Execute does
	if err != nil {
		t.Fatal(err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, err := p.in.Write(append(body, '\n')); err != nil {
		t.Fatalf("writing to python3: %v", err)
	}
	line, err := p.out.ReadBytes('\n')
	if err != nil {
		t.Fatalf("reading from python3: %v", err)
	}
	var answer struct {
		Argv  []string `json:"argv"`
		Error string   `json:"error"`
	}
	if err := json.Unmarshal(line, &answer); err != nil || answer.Error != "" {
		t.Fatalf("shlex.split(%q): %v %s", command, err, answer.Error)
	}
	return answer.Argv
}

// TestJoinArgvRoundTripsThroughRealShlex splits each joined command with
// the real Python shlex.split, as the runtime does, and with the fakes'
// splitter (pythontest.Split), which must agree with it.
func TestJoinArgvRoundTripsThroughRealShlex(t *testing.T) {
	for _, argv := range hostileArgs {
		cmd, err := JoinArgv(argv)
		if err != nil {
			t.Fatal(err)
		}
		if got := runtimeSplit(t, cmd); !reflect.DeepEqual(got, argv) {
			t.Errorf("argv %q\njoined %q\nsplit  %q", argv, cmd, got)
		}
		if got, err := pythontest.Split(cmd); err != nil || !reflect.DeepEqual(got, argv) {
			t.Errorf("argv %q\njoined %q\npythontest.Split %q, %v", argv, cmd, got, err)
		}
	}
}

func TestJoinArgvRejects(t *testing.T) {
	if _, err := JoinArgv(nil); err == nil || err.Error() != "no command given" {
		t.Errorf("empty argv: %v", err)
	}
	if _, err := JoinArgv([]string{"a\x00b"}); err == nil {
		t.Error("NUL must be refused")
	}
	if _, err := JoinArgv([]string{"cat", "caf\xe9"}); err == nil ||
		err.Error() != `argument "caf\xe9" is not valid UTF-8, which the sandbox runtime cannot receive exactly` {
		t.Errorf("invalid UTF-8: %v", err)
	}
}

func TestQuote(t *testing.T) {
	for in, want := range map[string]string{"": "''", "plain": "plain", "a b": "'a b'", "it's": `'it'"'"'s'`, "é": "'é'"} {
		if got := Quote(in); got != want {
			t.Errorf("Quote(%q) = %q, want %q", in, got, want)
		}
	}
}
