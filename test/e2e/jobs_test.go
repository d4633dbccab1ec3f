//go:build e2e

package e2e

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// jobJSON is a job as `jobs -o json` and the MCP tools print it.
type jobJSON struct {
	ID          string   `json:"id"`
	Command     []string `json:"command"`
	State       string   `json:"state"`
	ExitCode    *int     `json:"exitCode"`
	PID         int      `json:"pid"`
	OutputBytes int64    `json:"outputBytes"`
}

// jobOf reads one job with `jobs CLAIM JOB -o json`.
func jobOf(t *testing.T, claim, job string) jobJSON {
	t.Helper()
	var j jobJSON
	res := Sandbox(t, "jobs", claim, job, "-o", "json").RunOrFail()
	if err := json.Unmarshal([]byte(res.Stdout), &j); err != nil {
		t.Fatalf("jobs -o json: %v: %q", err, res.Stdout)
	}
	return j
}

// blobIn writes 1 MiB of random bytes to the sandbox's www/blob.bin and
// returns them.
func blobIn(t *testing.T, claim string) []byte {
	t.Helper()
	data := make([]byte, 1<<20)
	_, _ = rand.Read(data)
	Sandbox(t, "cp", "-", claim+":www/blob.bin").WithStdin(bytes.NewReader(data)).RunOrFail()
	return data
}

// proxyGet fetches path from port of the sandbox through `proxy`, a new
// CLI process, and stops it.
func proxyGet(t *testing.T, claim, port, path string) []byte {
	t.Helper()
	px := startLong(t, "proxy", claim, port)
	m := regexp.MustCompile(`on (http://127\.0\.0\.1:\d+/)\n$`).FindStringSubmatch(px.line(10 * time.Second))
	if m == nil {
		t.Fatal("no Serving line")
	}
	defer px.stop()
	return get(t, m[1]+path)
}

// TestBackgroundJobs: on both runtimes, each step a new CLI process. A
// web server started with exec --detach serves through proxy after the
// call that started it ended; jobs lists it. A job's output is followed
// from offset 0 to its end, whose exit code logs --job -f exits with, and
// read again from an offset. kill ends the server's whole process group:
// exit code 143, nothing of it left.
func TestBackgroundJobs(t *testing.T) {
	for _, pool := range []string{"python", "sandboxd"} {
		t.Run(pool, func(t *testing.T) {
			create := readyClaim
			if pool == "sandboxd" {
				create = sandboxdClaim
			}
			c := create(t, "e2e-jobs-"+pool)
			data := blobIn(t, c)

			res := Sandbox(t, "exec", c, "--detach", "--job", "web", "--workdir", "www", "--", "python3", "-m", "http.server", "9125").RunOrFail()
			if res.Stdout != "web\n" || res.Stderr != "" {
				t.Fatalf("exec --detach: stdout %q stderr %q", res.Stdout, res.Stderr)
			}
			if got := proxyGet(t, c, "9125", "blob.bin"); !bytes.Equal(got, data) {
				t.Errorf("through proxy: %d bytes, differing from the %d written", len(got), len(data))
			}
			res = Sandbox(t, "jobs", c).RunOrFail()
			if !regexp.MustCompile(`(?m)^NAME +STATUS +EXIT +OUTPUT +COMMAND +AGE\nweb +Running +<none> +\d+ +python3 -m http\.server 9125 +\S+$`).MatchString(res.Stdout) {
				t.Errorf("jobs:\n%s", res.Stdout)
			}

			res = Sandbox(t, "exec", c, "-d", "--", "sh", "-c", "for i in 1 2 3; do echo line $i; sleep 1; done; echo oops >&2; exit 7").RunOrFail()
			id := strings.TrimSpace(res.Stdout)
			if !regexp.MustCompile(`^job-[0-9a-f]{8}$`).MatchString(id) {
				t.Fatalf("exec -d printed %q", res.Stdout)
			}
			res = Sandbox(t, "logs", c, "--job", id, "-f").Run()
			if res.ExitCode != 7 || res.Stdout != "line 1\nline 2\nline 3\noops\n" || res.Stderr != "" {
				t.Errorf("logs --job -f: exit %d, stdout %q, stderr %q; want 7 and the four lines", res.ExitCode, res.Stdout, res.Stderr)
			}
			res = Sandbox(t, "logs", c, "--job", id, "--offset", "7").RunOrFail()
			if res.Stdout != "line 2\nline 3\noops\n" {
				t.Errorf("logs --job --offset 7: %q", res.Stdout)
			}
			if j := jobOf(t, c, id); j.State != "Exited" || j.ExitCode == nil || *j.ExitCode != 7 || j.OutputBytes != 26 {
				t.Errorf("the job after its end: %+v", j)
			}

			web := jobOf(t, c, "web")
			if res := Sandbox(t, "kill", c, "web").RunOrFail(); res.Stdout != "job/web killed (exit code 143)\n" {
				t.Errorf("kill: %q", res.Stdout)
			}
			if j := jobOf(t, c, "web"); j.State != "Exited" || j.ExitCode == nil || *j.ExitCode != 143 {
				t.Errorf("the server after kill: %+v", j)
			}
			// Nothing of its process group is left (pgrep -g: by group).
			if res := Sandbox(t, "exec", c, "--", "pgrep", "-g", strconv.Itoa(web.PID)).Run(); res.ExitCode != 1 || res.Stdout != "" {
				t.Errorf("processes of the server's group %d left: exit %d %q", web.PID, res.ExitCode, res.Stdout)
			}
			if res := Sandbox(t, "kill", c, "web").RunOrFail(); res.Stdout != "job/web had ended already (exit code 143)\n" {
				t.Errorf("a second kill: %q", res.Stdout)
			}
			if res := Sandbox(t, "logs", c, "--job", "job-nope").Run(); res.ExitCode != 1 ||
				res.Stderr != "error: no job \"job-nope\" in the sandbox (list them with: kubectl sandbox jobs CLAIM)\n" {
				t.Errorf("logs of no job: exit %d %q", res.ExitCode, res.Stderr)
			}
		})
	}
}

// TestMCPBackgroundJobs: the same through the MCP tools (the official
// TypeScript client), with the CLI beside it: a server started by a tool
// serves through proxy; a job's output is read from offset 0 to its end
// and exit code, by the tool and by logs --job from a new CLI process; a
// job the CLI started is listed and killed by the tools.
func TestMCPBackgroundJobs(t *testing.T) {
	c := readyClaim(t, "e2e-mcp-jobs")
	data := blobIn(t, c)
	r := startMCPRepl(t, nil, "stdio")
	call := func(tool string, args map[string]any, out any) {
		t.Helper()
		a := r.call(tool, args)
		if a.IsError {
			t.Fatalf("%s: %s", tool, a.Text)
		}
		if err := json.Unmarshal(a.StructuredContent, out); err != nil {
			t.Fatalf("%s: %v: %s", tool, err, a.StructuredContent)
		}
	}
	var web jobJSON
	call("sandbox_job_start", map[string]any{"name": c, "job": "web", "workdir": "www", "command": []string{"python3", "-m", "http.server", "9126"}}, &web)
	if web.ID != "web" || web.State != "Running" {
		t.Fatalf("sandbox_job_start: %+v", web)
	}
	if got := proxyGet(t, c, "9126", "blob.bin"); !bytes.Equal(got, data) {
		t.Errorf("through proxy: %d bytes, differing from the %d written", len(got), len(data))
	}

	var started jobJSON
	call("sandbox_job_start", map[string]any{"name": c, "command": []string{"sh", "-c", "echo a; sleep 1; echo b; exit 3"}}, &started)
	var out struct {
		Output     string  `json:"output"`
		Encoding   string  `json:"encoding"`
		NextOffset int64   `json:"nextOffset"`
		Complete   bool    `json:"complete"`
		Job        jobJSON `json:"job"`
	}
	var all strings.Builder
	for off, calls := int64(0), 0; !out.Complete; off = out.NextOffset {
		if calls++; calls > 20 {
			t.Fatalf("sandbox_job_output: not complete after 20 calls: %q so far", all.String())
		}
		call("sandbox_job_output", map[string]any{"name": c, "id": started.ID, "offset": off, "waitSeconds": 10}, &out)
		all.WriteString(out.Output)
	}
	if all.String() != "a\nb\n" || out.Job.ExitCode == nil || *out.Job.ExitCode != 3 {
		t.Errorf("sandbox_job_output to the end: %q, %+v", all.String(), out.Job)
	}
	if res := Sandbox(t, "logs", c, "--job", started.ID, "-f").Run(); res.ExitCode != 3 || res.Stdout != "a\nb\n" {
		t.Errorf("logs --job -f of the tool's job: exit %d %q", res.ExitCode, res.Stdout)
	}

	Sandbox(t, "exec", c, "-d", "--job", "cli-made", "--", "sleep", "300").RunOrFail()
	var list struct {
		Jobs []jobJSON `json:"jobs"`
	}
	call("sandbox_job_list", map[string]any{"name": c}, &list)
	states := map[string]string{}
	for _, j := range list.Jobs {
		states[j.ID] = j.State
	}
	if states["web"] != "Running" || states["cli-made"] != "Running" || states[started.ID] != "Exited" || len(states) != 3 {
		t.Errorf("sandbox_job_list: %+v", list.Jobs)
	}
	for _, id := range []string{"web", "cli-made"} {
		var killed struct {
			Signalled bool    `json:"signalled"`
			Job       jobJSON `json:"job"`
		}
		call("sandbox_job_kill", map[string]any{"name": c, "id": id}, &killed)
		if !killed.Signalled || killed.Job.State != "Exited" || killed.Job.ExitCode == nil || *killed.Job.ExitCode != 143 {
			t.Errorf("sandbox_job_kill %s: %+v", id, killed)
		}
	}
	if j := jobOf(t, c, "cli-made"); j.State != "Exited" || *j.ExitCode != 143 {
		t.Errorf("the CLI's job after the tool's kill: %+v", j)
	}
	r.close()
}
