//go:build e2e

package release

import (
	"archive/zip"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestGoInstallAtVersion: `go install MODULE/cmd/kubectl-sandbox@VERSION`
// from a clean GOPATH, through a module proxy (GOPROXY=file://) that holds
// this source as that version and, after it, the module cache's downloads
// for the dependencies: the binary it installs reports that version.
func TestGoInstallAtVersion(t *testing.T) {
	const version = "v0.0.3"
	proxy := t.TempDir()
	writeModuleVersion(t, proxy, version)
	goenv, err := exec.Command("go", "env", "GOMODCACHE").Output()
	if err != nil {
		t.Fatal(err)
	}
	downloads := filepath.Join(strings.TrimSpace(string(goenv)), "cache", "download")
	gopath := t.TempDir()

	install := exec.Command("go", "install", module+"/cmd/kubectl-sandbox@"+version)
	install.Dir = t.TempDir() // outside any module
	install.Env = append(os.Environ(),
		"GOPATH="+gopath, "GOMODCACHE=", "GOBIN=", "GOENV=off", "GOWORK=off", "GOTOOLCHAIN=local",
		"GOPROXY=file://"+proxy+",file://"+downloads, "GONOPROXY=", "GOPRIVATE=",
		// Offline, the checksum database cannot be asked; the dependencies
		// come from this machine's module cache, checked against go.sum
		// when they were downloaded.
		"GOSUMDB=off",
		// -modcacherw lets the test remove its module cache; -trimpath,
		// no DWARF and CGO_ENABLED=0, as the release builds, let the build
		// cache serve the dependencies. None changes what is resolved.
		"GOFLAGS=-modcacherw -trimpath -gcflags=all=-dwarf=false", "CGO_ENABLED=0")
	start := time.Now()
	if out, err := install.CombinedOutput(); err != nil {
		t.Fatalf("go install %s/cmd/kubectl-sandbox@%s: %v\n%s", module, version, err, out)
	}
	t.Logf("go install: %s", time.Since(start).Round(time.Second))
	out, err := exec.Command(filepath.Join(gopath, "bin", "kubectl-sandbox"), "version", "--client").CombinedOutput()
	if err != nil || string(out) != clientVersion(version) {
		t.Fatalf("the installed kubectl-sandbox version --client: %v: %q", err, out)
	}
}

// writeModuleVersion lays out this source, as a commit of the working tree
// would hold it, as version of the module in the module proxy folder proxy
// (the GOPROXY protocol's list, .info, .mod and .zip).
func writeModuleVersion(t *testing.T, proxy, version string) {
	t.Helper()
	dir := filepath.Join(proxy, filepath.FromSlash(module), "@v")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	gomod, err := os.ReadFile(filepath.Join(repoRoot, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	for name, body := range map[string]string{
		"list":            version + "\n",
		version + ".info": `{"Version":"` + version + `","Time":"2026-01-01T00:00:00Z"}`,
		version + ".mod":  string(gomod),
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	f, err := os.Create(filepath.Join(dir, version+".zip"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zw := zip.NewWriter(f)
	for _, name := range moduleFiles(t) {
		body, err := os.ReadFile(filepath.Join(repoRoot, filepath.FromSlash(name)))
		if err != nil {
			t.Fatal(err)
		}
		w, err := zw.Create(module + "@" + version + "/" + name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(body); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
}

// moduleFiles are the files of the root module: tracked or new (not
// ignored), regular, and outside the folders of the tool modules (each
// folder with a go.mod of its own).
func moduleFiles(t *testing.T) []string {
	t.Helper()
	cmd := exec.Command("git", "ls-files", "-z", "--cached", "--others", "--exclude-standard")
	cmd.Dir = repoRoot
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	all := strings.Split(strings.TrimRight(string(out), "\x00"), "\x00")
	var nested []string
	for _, name := range all {
		if path.Base(name) == "go.mod" && name != "go.mod" {
			nested = append(nested, path.Dir(name)+"/")
		}
	}
	var files []string
next:
	for _, name := range all {
		for _, n := range nested {
			if strings.HasPrefix(name, n) {
				continue next
			}
		}
		if fi, err := os.Lstat(filepath.Join(repoRoot, filepath.FromSlash(name))); err == nil && fi.Mode().IsRegular() {
			files = append(files, name)
		}
	}
	return files
}
