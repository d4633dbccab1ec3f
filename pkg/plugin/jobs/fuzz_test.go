package jobs

import (
	"bytes"
	"encoding/base64"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// FuzzParseRecords: whatever the sandbox answers, parsing never panics;
// every job it returns has an id CheckID takes, a known state, an exit code
// only once exited, and a command of valid text; a record of a job
// formatted by FormatRecord parses back to it.
func FuzzParseRecords(f *testing.F) {
	code := 143
	f.Add(FormatRecord(Job{ID: "job-0a1b2c3d", Command: []string{"sh", "-c", "sleep 1\tx\ny"}, State: Exited, ExitCode: &code,
		PID: 42, Started: time.Unix(1700000000, 0).UTC(), Ended: time.Unix(1700000100, 0).UTC(), OutputBytes: 12}))
	f.Add("job\tweb\trunning\t\t7\t1700000000\t\t  0\t[\"python3\",\"-m\",\"http.server\"]\n")
	f.Add("job\t..\texited\t0\t1\t1\t1\t1\t[]\njob\tA\trunning\t\t\t\t\t\t\n")
	f.Add("job\tx\tlost\tnope\t-1\t99999999999999999999\t\t-5\t{\"not\":\"argv\"}\r\nnoise\n")
	f.Fuzz(func(t *testing.T, out string) {
		jobs, err := ParseRecords(out)
		if err != nil {
			return
		}
		for _, j := range jobs {
			if CheckID(j.ID) != nil {
				t.Errorf("id %q", j.ID)
			}
			if j.State != Running && j.State != Exited && j.State != Lost {
				t.Errorf("state %q", j.State)
			}
			if j.ExitCode != nil && (j.State != Exited || *j.ExitCode < 0 || *j.ExitCode > 255) {
				t.Errorf("exit code %d of a job %s", *j.ExitCode, j.State)
			}
			if j.OutputBytes < 0 || j.PID < 0 {
				t.Errorf("%+v", j)
			}
			for _, a := range j.Command {
				if !utf8.ValidString(a) || strings.ContainsRune(a, 0) {
					t.Errorf("command %q", j.Command)
				}
			}
			again, err := ParseRecords(FormatRecord(j))
			if err != nil || len(again) != 1 || !reflect.DeepEqual(again[0], j) {
				t.Errorf("%+v formatted and parsed again: %+v, %v", j, again, err)
			}
		}
	})
}

// FuzzDecodeOutput: output in base64, as base64(1) wraps it, decodes to
// the bytes encoded, and never to more than asked for.
func FuzzDecodeOutput(f *testing.F) {
	f.Add([]byte("\x00\xff\n"), 16)
	f.Add(bytes.Repeat([]byte("x"), 200), 200)
	f.Add([]byte{}, 1)
	f.Fuzz(func(t *testing.T, data []byte, max int) {
		if max <= 0 || max > MaxChunk {
			return
		}
		enc := base64.StdEncoding.EncodeToString(data)
		var wrapped strings.Builder
		for i := 0; i < len(enc); i += 76 {
			wrapped.WriteString(enc[i:min(i+76, len(enc))] + "\n")
		}
		got, err := DecodeOutput(wrapped.String(), max)
		switch {
		case len(data) > max && err == nil:
			t.Errorf("%d bytes decoded with a bound of %d", len(got), max)
		case len(data) <= max && (err != nil || !bytes.Equal(got, data)):
			t.Errorf("decoded %q, %v; want %q", got, err, data)
		}
		if _, err := DecodeOutput(string(data), max); err == nil && len(got) > max {
			t.Error("over the bound")
		}
	})
}

// FuzzCheckID: an id CheckID takes is a plain file name, a DNS label.
func FuzzCheckID(f *testing.F) {
	for _, s := range []string{"job-0a1b2c3d", "web", "..", "a/b", "-a", "a-", "A"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, id string) {
		if CheckID(id) != nil {
			return
		}
		if len(id) == 0 || len(id) > 63 || strings.ContainsAny(id, "/.\x00 \t\n") || id[0] == '-' || id[len(id)-1] == '-' || strings.ToLower(id) != id {
			t.Errorf("CheckID took %q", id)
		}
	})
}
