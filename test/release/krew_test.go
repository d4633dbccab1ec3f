//go:build e2e

package release

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"
)

// readmeIndex is the index the README tells users to add, and the plugin
// they install from it.
func readmeIndex(t *testing.T) (name, url string) {
	t.Helper()
	readme, err := os.ReadFile(filepath.Join(repoRoot, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	add := regexp.MustCompile(`(?m)^kubectl krew index add (\S+) (\S+)$`).FindStringSubmatch(string(readme))
	if add == nil {
		t.Fatal("the README shows no `kubectl krew index add NAME URL`")
	}
	if !strings.Contains(string(readme), "\nkubectl krew install "+add[1]+"/sandbox\n") {
		t.Fatalf("the README shows no `kubectl krew install %s/sandbox`", add[1])
	}
	script, err := os.ReadFile(filepath.Join(repoRoot, "hack", "release.sh"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(script), "\nINDEX_URL="+add[2]+"\n") {
		t.Fatalf("the README's index URL %s is not the one hack/release.sh publishes to (INDEX_URL)", add[2])
	}
	return add[1], add[2]
}

// archiveServer serves the files under root over HTTP, as a release's
// download URL does, and counts the requests for each path.
type archiveServer struct {
	*httptest.Server
	mu   sync.Mutex
	hits map[string]int
}

func newArchiveServer(t *testing.T, root string) *archiveServer {
	s := &archiveServer{hits: map[string]int{}}
	files := http.FileServer(http.Dir(root))
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.hits[r.URL.Path]++
		s.mu.Unlock()
		files.ServeHTTP(w, r)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *archiveServer) count(path string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hits[path]
}

// TestKrewIndexInstallUpgradeUninstall does what the README tells users,
// with the real krew, offline: the release's Krew index (a git repository,
// here file://) is added under the README's name, the plugin installed from
// it and run through kubectl; a newer release lands in the index and
// `kubectl krew upgrade` moves to it; `kubectl krew uninstall` and
// removing the index leave nothing in KREW_ROOT. The archives come from a
// local HTTP server, as they would from the release's download URL.
func TestKrewIndexInstallUpgradeUninstall(t *testing.T) {
	indexName, _ := readmeIndex(t)
	platform := runtime.GOOS + "/" + runtime.GOARCH
	root := t.TempDir()
	index := filepath.Join(t.TempDir(), "krew-index")
	srv := newArchiveServer(t, root)
	releaseOf := func(version string) {
		releaseRun{version: version, dist: filepath.Join(root, version), platforms: []string{platform},
			env: []string{"KREW_INDEX=" + index, "RELEASE_URL=" + srv.URL + "/" + version}}.run(t)
	}
	releaseOf("v0.0.1")
	user := newKrewUser(t, buildKrew(t))

	user.must("krew", "index", "add", indexName, "file://"+index)
	user.must("krew", "install", indexName+"/sandbox")
	if out := user.must("sandbox", "version", "--client"); out != clientVersion("v0.0.1") {
		t.Fatalf("kubectl sandbox version --client after install: %q", out)
	}
	if n := srv.count("/v0.0.1/" + archiveName("v0.0.1", platform)); n != 1 {
		t.Errorf("the v0.0.1 archive was downloaded %d times, want once", n)
	}

	releaseOf("v0.0.2")
	out := user.must("krew", "upgrade")
	if !strings.Contains(out, "Upgraded plugin: "+indexName+"/sandbox") {
		t.Errorf("kubectl krew upgrade:\n%s", out)
	}
	if out := user.must("sandbox", "version", "--client"); out != clientVersion("v0.0.2") {
		t.Fatalf("kubectl sandbox version --client after upgrade: %q", out)
	}
	store := filepath.Join(user.root, "store", "sandbox")
	if versions, _ := os.ReadDir(store); len(versions) != 1 || versions[0].Name() != "v0.0.2" {
		t.Errorf("after the upgrade the store holds %v, want v0.0.2 alone", versions)
	}
	if out := user.must("krew", "upgrade"); !strings.Contains(out, "it is already on the newest version") {
		t.Errorf("a second kubectl krew upgrade:\n%s", out)
	}

	user.must("krew", "uninstall", "sandbox")
	if out, err := user.kubectl("sandbox", "version", "--client"); err == nil {
		t.Errorf("kubectl sandbox still runs after uninstall: %q", out)
	}
	user.must("krew", "index", "remove", indexName)
	var left []string
	_ = filepath.WalkDir(user.root, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			left = append(left, strings.TrimPrefix(p, user.root+"/"))
		}
		return err
	})
	if len(left) > 0 {
		t.Errorf("uninstall left in KREW_ROOT: %v", left)
	}
}

// TestKrewInstallFromManifestAndArchive is the README's offline install: the
// release's manifest and archive, no index.
func TestKrewInstallFromManifestAndArchive(t *testing.T) {
	const version = "v0.0.1"
	platform := runtime.GOOS + "/" + runtime.GOARCH
	dist := t.TempDir()
	releaseRun{version: version, dist: dist, platforms: []string{platform}}.run(t)
	user := newKrewUser(t, buildKrew(t))
	user.must("krew", "install", "--manifest="+filepath.Join(dist, "krew", "sandbox.yaml"),
		"--archive="+filepath.Join(dist, archiveName(version, platform)))
	if out := user.must("sandbox", "version", "--client"); out != clientVersion(version) {
		t.Fatalf("kubectl sandbox version --client: %q", out)
	}
}
