//go:build e2e

package release

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"debug/elf"
	"debug/macho"
	"debug/pe"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestReleaseIsReproducible makes the release of every platform twice, the
// second time under another umask and time zone, and finds the same bytes:
// archives, SBOMs, checksums, the Krew manifest and the index's commit.
// Then it checks what they hold: each archive the binary of its platform,
// LICENSE and the completion helper, stamped with the commit's time; the
// checksums; each SBOM; and the manifest, with Krew's validator.
func TestReleaseIsReproducible(t *testing.T) {
	const version = "v0.0.1"
	a, b := filepath.Join(t.TempDir(), "a"), filepath.Join(t.TempDir(), "b")
	releaseRun{version: version, dist: a}.run(t)
	releaseRun{version: version, dist: b, umask: "077", env: []string{"TZ=Pacific/Auckland"}}.run(t)

	platforms := manifestPlatforms(t)
	want := []string{"checksums.txt", "krew/sandbox.yaml"}
	for _, p := range platforms {
		want = append(want, archiveName(version, p), sbomName(version, p))
	}
	sort.Strings(want)
	if got := releaseFiles(t, a); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("the release holds\n%v\nwant\n%v", got, want)
	}
	for _, name := range want {
		ab, errA := os.ReadFile(filepath.Join(a, name))
		bb, errB := os.ReadFile(filepath.Join(b, name))
		if errA != nil || errB != nil || !bytes.Equal(ab, bb) {
			t.Errorf("%s differs between two releases of the same source (%d and %d bytes; %v, %v)", name, len(ab), len(bb), errA, errB)
		}
	}
	if ha, hb := gitHead(t, filepath.Join(a, "krew-index")), gitHead(t, filepath.Join(b, "krew-index")); ha != hb {
		t.Errorf("the Krew index commits differ: %s and %s", ha, hb)
	}

	commitTime := commitTime(t)
	for _, p := range platforms {
		checkArchive(t, filepath.Join(a, archiveName(version, p)), p, commitTime)
		checkSBOM(t, filepath.Join(a, sbomName(version, p)), version, p)
	}
	sums := exec.Command("sha256sum", "--strict", "-c", "checksums.txt")
	sums.Dir = a
	if out, err := sums.CombinedOutput(); err != nil || strings.Count(string(out), ": OK\n") != 2*len(platforms) {
		t.Errorf("sha256sum -c checksums.txt: %v\n%s", err, out)
	}
	validate := exec.Command(filepath.Join(buildKrew(t), "validate-krew-manifest"), "-manifest", filepath.Join(a, "krew", "sandbox.yaml"), "-skip-install")
	if out, err := validate.CombinedOutput(); err != nil {
		t.Errorf("validate-krew-manifest: %v\n%s", err, out)
	}
}

func archiveName(version, platform string) string {
	goos, arch, _ := strings.Cut(platform, "/")
	ext := ".tar.gz"
	if goos == "windows" {
		ext = ".zip"
	}
	return "kubectl-sandbox_" + version + "_" + goos + "_" + arch + ext
}

func sbomName(version, platform string) string {
	goos, arch, _ := strings.Cut(platform, "/")
	return "kubectl-sandbox_" + version + "_" + goos + "_" + arch + ".sbom.cdx.json"
}

// releaseFiles lists the files of a release folder, the Krew index left out.
func releaseFiles(t *testing.T, dist string) []string {
	t.Helper()
	var files []string
	err := filepath.WalkDir(dist, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == "krew-index" {
			return filepath.SkipDir
		}
		if !d.IsDir() {
			rel, _ := filepath.Rel(dist, p)
			files = append(files, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(files)
	return files
}

func gitHead(t *testing.T, repo string) string {
	t.Helper()
	out, err := exec.Command("git", "-C", repo, "rev-parse", "HEAD").Output()
	if err != nil {
		t.Fatalf("git rev-parse in %s: %v", repo, err)
	}
	return strings.TrimSpace(string(out))
}

// commitTime is the time of the source's commit, which the release stamps.
func commitTime(t *testing.T) time.Time {
	t.Helper()
	out, err := exec.Command("git", "-C", repoRoot, "log", "-1", "--format=%ct").Output()
	if err != nil {
		t.Fatal(err)
	}
	sec, err := strconv.ParseInt(strings.TrimSpace(string(out)), 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return time.Unix(sec, 0)
}

// entry is a file in an archive.
type entry struct {
	mode  os.FileMode
	mtime time.Time
	body  []byte
}

// checkArchive: the binary of the platform, LICENSE and the completion
// helper, in that name order, with normalised modes and the commit's time.
func checkArchive(t *testing.T, path, platform string, mtime time.Time) {
	t.Helper()
	names, entries := readArchive(t, path)
	bin := "kubectl-sandbox"
	if strings.HasPrefix(platform, "windows/") {
		bin += ".exe"
	}
	if want := []string{"LICENSE", bin, "kubectl_complete-sandbox"}; strings.Join(names, " ") != strings.Join(want, " ") {
		t.Errorf("%s holds %v, want %v", filepath.Base(path), names, want)
		return
	}
	for name, e := range entries {
		wantMode := os.FileMode(0o755)
		if name == "LICENSE" {
			wantMode = 0o644
		}
		if e.mode != wantMode || !e.mtime.Equal(mtime) {
			t.Errorf("%s: %s has mode %v and time %v, want %v and %v", filepath.Base(path), name, e.mode, e.mtime, wantMode, mtime)
		}
	}
	if got := binaryPlatform(t, entries[bin].body); got != platform {
		t.Errorf("%s: the binary is for %s", filepath.Base(path), got)
	}
}

func readArchive(t *testing.T, path string) ([]string, map[string]entry) {
	t.Helper()
	var names []string
	entries := map[string]entry{}
	if strings.HasSuffix(path, ".zip") {
		zr, err := zip.OpenReader(path)
		if err != nil {
			t.Fatal(err)
		}
		defer zr.Close()
		for _, f := range zr.File {
			rc, err := f.Open()
			if err != nil {
				t.Fatal(err)
			}
			body, err := io.ReadAll(rc)
			rc.Close()
			if err != nil {
				t.Fatal(err)
			}
			names = append(names, f.Name)
			entries[f.Name] = entry{mode: f.Mode(), mtime: f.Modified, body: body}
		}
		return names, entries
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	if !gz.ModTime.IsZero() || gz.Name != "" {
		t.Errorf("%s: the gzip header has time %v and name %q", filepath.Base(path), gz.ModTime, gz.Name)
	}
	tr := tar.NewReader(gz)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return names, entries
		}
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		if h.Uid != 0 || h.Gid != 0 || h.Uname != "" || h.Gname != "" {
			t.Errorf("%s: %s is owned by %d:%d (%q:%q)", filepath.Base(path), h.Name, h.Uid, h.Gid, h.Uname, h.Gname)
		}
		names = append(names, h.Name)
		entries[h.Name] = entry{mode: os.FileMode(h.Mode), mtime: h.ModTime, body: body}
	}
}

// binaryPlatform reads GOOS/GOARCH from an executable's header.
func binaryPlatform(t *testing.T, b []byte) string {
	t.Helper()
	r := bytes.NewReader(b)
	if f, err := elf.NewFile(r); err == nil {
		switch f.Machine {
		case elf.EM_X86_64:
			return "linux/amd64"
		case elf.EM_AARCH64:
			return "linux/arm64"
		}
		return "linux/" + f.Machine.String()
	}
	if f, err := macho.NewFile(r); err == nil {
		switch f.Cpu {
		case macho.CpuAmd64:
			return "darwin/amd64"
		case macho.CpuArm64:
			return "darwin/arm64"
		}
		return "darwin/" + f.Cpu.String()
	}
	if f, err := pe.NewFile(r); err == nil {
		switch f.Machine {
		case pe.IMAGE_FILE_MACHINE_AMD64:
			return "windows/amd64"
		case pe.IMAGE_FILE_MACHINE_ARM64:
			return "windows/arm64"
		}
		return "windows/" + strconv.Itoa(int(f.Machine))
	}
	return "unknown"
}

// checkSBOM: a CycloneDX document without serial number or time stamp, for
// the plugin at version on the platform, that names the modules built in
// with their licenses.
func checkSBOM(t *testing.T, path, version, platform string) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	type component struct {
		Name, Version, Purl string
		Evidence            struct {
			Licenses []struct{ License struct{ ID string } }
		}
	}
	var bom struct {
		BomFormat    string
		SerialNumber string
		Metadata     struct {
			Timestamp string
			Component component
		}
		Components []component
	}
	if err := json.Unmarshal(raw, &bom); err != nil {
		t.Fatalf("%s: %v", filepath.Base(path), err)
	}
	goos, arch, _ := strings.Cut(platform, "/")
	main := bom.Metadata.Component
	if bom.BomFormat != "CycloneDX" || bom.SerialNumber != "" || bom.Metadata.Timestamp != "" ||
		main.Name != module || main.Version != version || !strings.Contains(main.Purl, "goarch="+arch+"&goos="+goos) {
		t.Errorf("%s: format %q, serial %q, time %q, component %+v", filepath.Base(path), bom.BomFormat, bom.SerialNumber, bom.Metadata.Timestamp, main)
	}
	licenses := map[string]string{}
	for _, c := range bom.Components {
		if len(c.Evidence.Licenses) > 0 {
			licenses[c.Name] = c.Evidence.Licenses[0].License.ID
		}
	}
	for _, mod := range []string{"k8s.io/client-go", "github.com/spf13/cobra", "google.golang.org/grpc"} {
		if licenses[mod] != "Apache-2.0" {
			t.Errorf("%s: %s has license %q, want Apache-2.0", filepath.Base(path), mod, licenses[mod])
		}
	}
}
