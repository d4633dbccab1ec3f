package sandbox

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"unicode/utf8"
)

// CheckArgv says whether argv can reach a process exactly: it is not
// empty, and no argument holds a NUL byte (no process can receive one) or
// bytes that are not UTF-8 (commands travel as text: such bytes would
// arrive as U+FFFD, naming another file than the one meant).
func CheckArgv(argv []string) error {
	if len(argv) == 0 {
		return errors.New("no command given")
	}
	for _, a := range argv {
		if strings.ContainsRune(a, 0) {
			return errors.New("an argument contains a NUL byte, which no process can receive")
		}
		if !utf8.ValidString(a) {
			return fmt.Errorf("argument %q is not valid UTF-8, which the sandbox runtime cannot receive exactly", a)
		}
	}
	return nil
}

// CheckEnv says whether a command's environment can be set: every name is
// not empty and holds no "=" or NUL byte, and no value holds a NUL byte.
func CheckEnv(env map[string]string) error {
	for _, k := range slices.Sorted(maps.Keys(env)) {
		if k == "" || strings.ContainsAny(k, "=\x00") {
			return fmt.Errorf("invalid environment variable name %q", k)
		}
		if strings.ContainsRune(env[k], 0) {
			return fmt.Errorf("invalid value of environment variable %q: it holds a NUL byte", k)
		}
	}
	return nil
}

// EnvArgv is argv running cmd with its Env and Workdir through env(1), for
// runtimes that take neither: env -C WORKDIR K=V... -- ARGV. env takes every
// leading NAME=VALUE argument as a variable, so a command name holding "="
// is refused.
func EnvArgv(cmd Command) ([]string, error) {
	if len(cmd.Env) == 0 && cmd.Workdir == "" {
		return cmd.Argv, nil
	}
	if len(cmd.Argv) > 0 && strings.Contains(cmd.Argv[0], "=") {
		return nil, fmt.Errorf("command %q: a command name holding \"=\" cannot be run with an environment or a working directory on this runtime", cmd.Argv[0])
	}
	argv := []string{"env"}
	if cmd.Workdir != "" {
		argv = append(argv, "-C", cmd.Workdir)
	}
	for _, k := range slices.Sorted(maps.Keys(cmd.Env)) {
		argv = append(argv, k+"="+cmd.Env[k])
	}
	argv = append(argv, "--")
	return append(argv, cmd.Argv...), nil
}
