package jobs

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// maxRecords bounds the jobs of one listing: a sandbox's answer is not
// trusted to be small.
const maxRecords = 100000

// states maps the scripts' states to Job's.
var states = map[string]string{"running": Running, "exited": Exited, "lost": Lost}

// ParseRecords parses the scripts' job records (see stateFunc), one per
// line: "job", id, state, exit code, pid, start, end, output size and the
// command as JSON, tab-separated. The sandbox writes them, and whatever
// runs there may write its files: a line that is not a record, or whose
// id or state is not one a job can have, is skipped; a field that does not
// parse is left empty. Jobs come in the order they started (then by id).
func ParseRecords(out string) ([]Job, error) {
	var jobs []Job
	for line := range strings.Lines(out) {
		j, ok := parseRecord(strings.TrimRight(line, "\r\n"))
		if !ok {
			continue
		}
		if len(jobs) == maxRecords {
			return nil, fmt.Errorf("the sandbox lists more than %d jobs", maxRecords)
		}
		jobs = append(jobs, j)
	}
	sort.SliceStable(jobs, func(a, b int) bool {
		if !jobs[a].Started.Equal(jobs[b].Started) {
			return jobs[a].Started.Before(jobs[b].Started)
		}
		return jobs[a].ID < jobs[b].ID
	})
	return jobs, nil
}

func parseRecord(line string) (Job, bool) {
	f := strings.SplitN(line, "\t", 9)
	if len(f) != 9 || f[0] != "job" || CheckID(f[1]) != nil {
		return Job{}, false
	}
	state, ok := states[f[2]]
	if !ok {
		return Job{}, false
	}
	j := Job{ID: f[1], State: state}
	if state == Exited {
		if code, err := strconv.Atoi(strings.TrimSpace(f[3])); err == nil && code >= 0 && code <= 255 {
			j.ExitCode = &code
		}
	}
	if pid, err := strconv.Atoi(strings.TrimSpace(f[4])); err == nil && pid > 0 {
		j.PID = pid
	}
	j.Started = epoch(f[5])
	j.Ended = epoch(f[6])
	if n, err := strconv.ParseInt(strings.TrimSpace(f[7]), 10, 64); err == nil && n >= 0 {
		j.OutputBytes = n
	}
	var argv []string
	if json.Unmarshal([]byte(f[8]), &argv) == nil && validArgv(argv) {
		j.Command = argv
	}
	return j, true
}

// validArgv says whether argv could be a command: text without NUL.
func validArgv(argv []string) bool {
	for _, a := range argv {
		if !utf8.ValidString(a) || strings.ContainsRune(a, 0) {
			return false
		}
	}
	return len(argv) > 0
}

// epoch parses seconds since 1970 (zero when it does not parse).
func epoch(s string) time.Time {
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil || n <= 0 || n > 1<<40 {
		return time.Time{}
	}
	return time.Unix(n, 0).UTC()
}

// FormatRecord is the record of j as the scripts print it (for tests and
// fakes of the sandbox).
func FormatRecord(j Job) string {
	state := ""
	for k, v := range states {
		if v == j.State {
			state = k
		}
	}
	code := ""
	if j.ExitCode != nil {
		code = strconv.Itoa(*j.ExitCode)
	}
	pid := ""
	if j.PID > 0 {
		pid = strconv.Itoa(j.PID)
	}
	unix := func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return strconv.FormatInt(t.Unix(), 10)
	}
	cmd, _ := json.Marshal(j.Command)
	return strings.Join([]string{"job", j.ID, state, code, pid, unix(j.Started), unix(j.Ended), strconv.FormatInt(j.OutputBytes, 10), string(cmd)}, "\t") + "\n"
}
