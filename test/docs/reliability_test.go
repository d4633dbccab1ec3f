// Package docs checks that the project's documents match its tests.
package docs

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
)

var (
	testFunc = regexp.MustCompile(`(?m)^func ((?:Test|Fuzz)\w+)\(`)
	docName  = regexp.MustCompile("`((?:Test|Fuzz)\\w+)`")
)

// repoTests maps every test and fuzz function of the repository to its file.
func repoTests(t *testing.T, root string) map[string]string {
	t.Helper()
	found := map[string]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "_output" || d.Name() == "node_modules" || strings.HasPrefix(d.Name(), ".")) && p != root {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(p, "_test.go") {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		for _, m := range testFunc.FindAllSubmatch(b, -1) {
			rel, _ := filepath.Rel(root, p)
			found[string(m[1])] = rel
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return found
}

// TestReliabilityDocIsCurrent: docs/reliability.md names only tests that
// exist, and every fault test (TestFault*) and fuzz target (Fuzz*) of the
// repository has its row there.
func TestReliabilityDocIsCurrent(t *testing.T) {
	root, _ := filepath.Abs(filepath.Join("..", ".."))
	doc, err := os.ReadFile(filepath.Join(root, "docs", "reliability.md"))
	if err != nil {
		t.Fatal(err)
	}
	tests := repoTests(t, root)
	named := map[string]bool{}
	for _, m := range docName.FindAllSubmatch(doc, -1) {
		name := string(m[1])
		named[name] = true
		if _, ok := tests[name]; !ok {
			t.Errorf("docs/reliability.md names %s, which no test file defines", name)
		}
	}
	var missing []string
	for name, file := range tests {
		if (strings.HasPrefix(name, "TestFault") || strings.HasPrefix(name, "Fuzz")) && !named[name] {
			missing = append(missing, name+" ("+file+")")
		}
	}
	sort.Strings(missing)
	for _, m := range missing {
		t.Errorf("docs/reliability.md has no row for %s", m)
	}
}
