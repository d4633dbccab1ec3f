package sandbox

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"
)

// unsafe matches what Python's shlex.quote treats as needing quotes: any
// character outside [A-Za-z0-9_@%+=:,./-] (ASCII only).
var unsafe = regexp.MustCompile(`[^A-Za-z0-9_@%+=:,./-]`)

// Quote quotes one argument so that Python's shlex.split (POSIX mode)
// returns it unchanged, exactly as shlex.quote does.
func Quote(s string) string {
	if s == "" {
		return "''"
	}
	if !unsafe.MatchString(s) {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'"'"'`) + "'"
}

// JoinArgv turns argv into the command string the runtime splits with
// shlex.split, so that it recovers exactly argv. It refuses what cannot
// arrive exactly: a NUL byte (no process can receive one) and bytes that
// are not UTF-8 (the command travels as a JSON string, which the runtime
// decodes as UTF-8: such bytes would arrive as U+FFFD, naming another file
// than the one meant).
func JoinArgv(argv []string) (string, error) {
	if len(argv) == 0 {
		return "", errors.New("no command given")
	}
	quoted := make([]string, len(argv))
	for i, a := range argv {
		if strings.ContainsRune(a, 0) {
			return "", errors.New("an argument contains a NUL byte, which no process can receive")
		}
		if !utf8.ValidString(a) {
			return "", fmt.Errorf("argument %q is not valid UTF-8, which the sandbox runtime cannot receive exactly", a)
		}
		quoted[i] = Quote(a)
	}
	return strings.Join(quoted, " "), nil
}
