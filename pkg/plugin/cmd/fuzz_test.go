package cmd

import (
	"errors"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation"

	extv1beta1 "sigs.k8s.io/agent-sandbox/extensions/api/v1beta1"

	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/sandbox"
	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/session"
)

// The fuzz targets of the parsers of user input. `go test` runs their
// seeds (f.Add and testdata/fuzz); `make fuzz` explores further.

// oneLine fails the test unless err is one line.
func oneLine(t *testing.T, err error) {
	t.Helper()
	if strings.ContainsAny(err.Error(), "\n\r") {
		t.Fatalf("error on more than one line: %q", err)
	}
}

// FuzzParseLabels: accepted labels are the key=value pairs given (the last
// of a repeated key holds), valid keys and values for the API server, and
// print back (sorted, as kubectl does) to the same labels; a label string
// without repeated keys selects, with -l, what it labels.
func FuzzParseLabels(f *testing.F) {
	for _, s := range []string{"", "a=b", "app=web,tier=db", "example.com/team=a-b_c.d", "k=", "k", "=v", "a=b,", ",a=b",
		"a=b,a=c", "a=b=c", "A-b.c/D=e", "a/b/c=d", "a= b", strings.Repeat("k", 64) + "=v", "k=" + strings.Repeat("v", 64), "ü=v"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, err := parseLabels(s)
		if err != nil {
			if m != nil {
				t.Fatalf("parseLabels(%q) = %v, %v", s, m, err)
			}
			oneLine(t, err)
			return
		}
		if s == "" {
			if m != nil {
				t.Fatalf("parseLabels(\"\") = %v", m)
			}
			return
		}
		for k, v := range m {
			if errs := validation.IsQualifiedName(k); len(errs) > 0 {
				t.Fatalf("parseLabels(%q) accepted key %q: %v", s, k, errs)
			}
			if errs := validation.IsValidLabelValue(v); len(errs) > 0 {
				t.Fatalf("parseLabels(%q) accepted value %q: %v", s, v, errs)
			}
		}
		want := map[string]string{}
		for _, kv := range strings.Split(s, ",") {
			k, v, _ := strings.Cut(kv, "=")
			want[k] = v // the last of a repeated key holds
		}
		if !reflect.DeepEqual(m, want) {
			t.Fatalf("parseLabels(%q) = %v, want %v", s, m, want)
		}
		printed := labels.Set(m).String()
		if again, err := parseLabels(printed); err != nil || !reflect.DeepEqual(again, m) {
			t.Fatalf("parseLabels(%q) = %v, printed %q, parsed again %v, %v", s, m, printed, again, err)
		}
		if strings.Count(s, ",")+1 == len(m) {
			sel, err := parseSelector(s)
			if err != nil || !sel.Matches(labels.Set(m)) {
				t.Fatalf("labels %q: as a selector %v, %v", s, sel, err)
			}
		}
	})
}

// FuzzParsePairs: --cp-in LOCAL:REMOTE and --cp-out REMOTE:LOCAL never
// panic; an accepted pair has a runtime path (under /app, as RemotePath
// leaves it) and an absolute, clean local path; a spec without both sides
// is refused naming the flag and its form, a remote path outside /app
// with a *sandbox.PathError.
func FuzzParsePairs(f *testing.F) {
	for _, s := range []string{"in.txt:work/in.txt", "./dir:/app/dir", "a:b:c", "C:\\x:y", ":x", "x:", ":", "", "nocolon",
		"x:../etc", "x:/etc/passwd", "x:/app/../app/y", "/abs/local:.", "l:ü b/", "\x00:\xff"} {
		f.Add(s, true)
		f.Add(s, false)
	}
	f.Fuzz(func(t *testing.T, s string, in bool) {
		flag, form, local, remote := "--cp-out", "REMOTE:LOCAL", "", ""
		if in {
			flag, form = "--cp-in", "LOCAL:REMOTE"
		}
		a, b, ok := strings.Cut(s, ":")
		if local, remote = b, a; in {
			local, remote = a, b
		}
		pairs, err := parsePairs(flag, []string{s}, in)
		if err != nil {
			oneLine(t, err)
			var pe *sandbox.PathError
			switch {
			case !ok || a == "" || b == "":
				if want := "invalid " + flag + " " + strconv.Quote(s) + ": use " + form; err.Error() != want {
					t.Fatalf("parsePairs(%s, %q): %v, want %s", flag, s, err, want)
				}
			case !errors.As(err, &pe) || pe.Path != remote:
				t.Fatalf("parsePairs(%s, %q): %#v", flag, s, err)
			}
			return
		}
		if len(pairs) != 1 {
			t.Fatalf("parsePairs(%s, %q) = %q", flag, s, pairs)
		}
		p := pairs[0]
		if again, err := session.RemotePath(p.Remote); err != nil || again != p.Remote {
			t.Fatalf("parsePairs(%s, %q): remote %q is no runtime path (%q, %v)", flag, s, p.Remote, again, err)
		}
		if want, _ := session.RemotePath(remote); p.Remote != want {
			t.Fatalf("parsePairs(%s, %q): remote %q, want %q", flag, s, p.Remote, want)
		}
		if !filepath.IsAbs(p.Local) || filepath.Clean(p.Local) != p.Local {
			t.Fatalf("parsePairs(%s, %q): local %q is not absolute and clean", flag, s, p.Local)
		}
		if want, _ := filepath.Abs(local); p.Local != want {
			t.Fatalf("parsePairs(%s, %q): local %q, want %q", flag, s, p.Local, want)
		}
	})
}

// FuzzParseSpec: splitting CLAIM:PATH never panics; a claim it returns is
// a valid name (DNS-1123 subdomain) and, with its path, is what was typed;
// anything else is a local path, as typed.
func FuzzParseSpec(f *testing.F) {
	for _, s := range []string{"my-sandbox:input/data.csv", "my-sandbox:", "sb:/app/x", "sb.v2:a:b", "-", "./sb:x", "/abs:x", ".hidden:x",
		"Sb:x", "sb-:x", "-sb:x", "sb..v2:x", "a.-b:x", "fuzz_test.go", "x", ":x", strings.Repeat("a", 254) + ":x", "ü:x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		claim, p, remote := parseSpec(s)
		if !remote {
			if claim != "" || p != s {
				t.Fatalf("parseSpec(%q) = %q, %q, local", s, claim, p)
			}
			return
		}
		if errs := validation.IsDNS1123Subdomain(claim); len(errs) > 0 {
			t.Fatalf("parseSpec(%q) took %q for a claim: %v", s, claim, errs)
		}
		if claim+":"+p != s {
			t.Fatalf("parseSpec(%q) = %q, %q", s, claim, p)
		}
	})
}

// FuzzToSpecEnv: --env KEY=VALUE is accepted exactly when KEY is a valid
// environment variable name, and VALUE (everything after the first "=") is
// kept byte for byte; --ttl is accepted exactly when it is a duration of
// at least 0, and kept. Refusals name the flag, on one line.
func FuzzToSpecEnv(f *testing.F) {
	for _, tc := range [][2]string{
		{"KEY=value", "0"}, {"A=", "1h"}, {"A==b=c", "30m"}, {"PATH=/usr/bin:/bin", "1h30m"}, {"_x.y-z=1", "0s"},
		{"=v", "0"}, {"NOEQUALS", "0"}, {"1A=x", "0"}, {"A B=x", "0"}, {"K=multi\nline\x00\xff", "0"},
		{"K=v", "-1h"}, {"K=v", "1d"}, {"K=v", ""}, {"K=v", "9223372036854775807ns"}, {"K=v", "1e3h"},
	} {
		f.Add(tc[0], tc[1])
	}
	f.Fuzz(func(t *testing.T, kv, ttl string) {
		flags := CreateFlags{Pool: "python", TTL: ttl, Env: []string{kv}, Timeout: time.Minute}
		spec, err := flags.ToSpec("default", "")
		if err == nil {
			err = flags.Validate(spec)
		}
		d, derr := time.ParseDuration(ttl)
		name, value, hasEq := strings.Cut(kv, "=")
		ttlOK := derr == nil && d >= 0
		envOK := hasEq && len(validation.IsEnvVarName(name)) == 0
		switch {
		case !ttlOK:
			if err == nil || !strings.HasPrefix(err.Error(), "invalid --ttl ") {
				t.Fatalf("--ttl %q: %v", ttl, err)
			}
		case !envOK:
			if err == nil || !strings.HasPrefix(err.Error(), "invalid --env ") {
				t.Fatalf("--env %q: %v", kv, err)
			}
		case err != nil:
			t.Fatalf("--env %q --ttl %q: %v", kv, ttl, err)
		default:
			if want := []extv1beta1.EnvVar{{Name: name, Value: value}}; !reflect.DeepEqual(spec.Env, want) || spec.TTL != d {
				t.Fatalf("--env %q --ttl %q: env %q, ttl %v", kv, ttl, spec.Env, spec.TTL)
			}
			return
		}
		oneLine(t, err)
	})
}
