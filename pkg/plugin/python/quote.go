package python

import (
	"regexp"
	"strings"

	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/sandbox"
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
// arrive exactly (see sandbox.CheckArgv).
func JoinArgv(argv []string) (string, error) {
	if err := sandbox.CheckArgv(argv); err != nil {
		return "", err
	}
	quoted := make([]string, len(argv))
	for i, a := range argv {
		quoted[i] = Quote(a)
	}
	return strings.Join(quoted, " "), nil
}
