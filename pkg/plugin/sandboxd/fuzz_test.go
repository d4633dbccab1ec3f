package sandboxd

import (
	"context"
	"strings"
	"testing"
)

// FuzzList feeds arbitrary bodies to List as a directory listing: it never
// panics, and what it returns are entries it can trust: a name that is
// one path element, a known type.
func FuzzList(f *testing.F) {
	for _, seed := range []string{
		`{"path":"/","entries":[{"name":"a","size":1,"type":"file","modified_at":"2024-05-06T07:08:09Z","mode":"0644"},{"name":"d","size":4096,"type":"directory","modified_at":"2024-05-06T07:08:09Z"}]}`,
		`{"entries":[]}`,
		`{"entries":null}`,
		`{}`,
		`[]`,
		`null`,
		``,
		`{"entries":[{"name":"a/b","type":"file"}]}`,
		`{"entries":[{"name":"","type":"file"}]}`,
		`{"entries":[{"name":"..","type":"directory"}]}`,
		`{"entries":[{"name":"x","type":"symlink"}]}`,
		`{"entries":[{"name":"x","type":"file","size":-1,"modified_at":"yesterday"}]}`,
		`{"entries":[{"name":"x","type":"file","size":1e400}]}`,
		`{"entries":[{"name":"\u0000\n","type":"file"}]} trailing`,
		`{"entries":[{"name":"x","type":"file"},`,
		`{"entries":{"name":"x"}}`,
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, body string) {
		entries, err := answering(200, "application/json", body).List(context.Background(), "d")
		if err != nil {
			if entries != nil {
				t.Errorf("List returned entries and %v", err)
			}
			return
		}
		for _, e := range entries {
			if e.Name == "" || e.Name == "." || e.Name == ".." || strings.Contains(e.Name, "/") {
				t.Errorf("entry named %q", e.Name)
			}
			if e.Type != "file" && e.Type != "directory" {
				t.Errorf("entry %q of type %q", e.Name, e.Type)
			}
		}
	})
}
