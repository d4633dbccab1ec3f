package sandbox

import (
	"encoding/json"
	"os/exec"
	"reflect"
	"testing"
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

// TestJoinArgvRoundTripsThroughRealShlex splits each joined command with
// the real Python shlex.split, as the runtime does.
func TestJoinArgvRoundTripsThroughRealShlex(t *testing.T) {
	python, err := exec.LookPath("/usr/bin/python3")
	if err != nil {
		t.Fatalf("the real shlex needs /usr/bin/python3: %v", err)
	}
	for _, argv := range hostileArgs {
		cmd, err := JoinArgv(argv)
		if err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(python, "-c", "import json,shlex,sys; print(json.dumps(shlex.split(sys.argv[1])))", cmd).Output()
		if err != nil {
			t.Fatalf("shlex.split(%q): %v", cmd, err)
		}
		var got []string
		if err := json.Unmarshal(out, &got); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, argv) {
			t.Errorf("argv %q\njoined %q\nsplit  %q", argv, cmd, got)
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
}

func TestQuote(t *testing.T) {
	for in, want := range map[string]string{"": "''", "plain": "plain", "a b": "'a b'", "it's": `'it'"'"'s'`, "é": "'é'"} {
		if got := Quote(in); got != want {
			t.Errorf("Quote(%q) = %q, want %q", in, got, want)
		}
	}
}
