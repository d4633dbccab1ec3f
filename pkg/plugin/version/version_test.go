package version

import (
	"runtime"
	"runtime/debug"
	"testing"
)

func TestGetUnstamped(t *testing.T) {
	defer func(orig func() (*debug.BuildInfo, bool)) { readBuildInfo = orig }(readBuildInfo)
	readBuildInfo = func() (*debug.BuildInfo, bool) { return nil, false }
	got := Get()
	want := Info{Version: "dev", GoVersion: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	if got != want {
		t.Errorf("got %+v, want %+v", got, want)
	}
}

// TestVersionFromBuildInfo: an unstamped binary reports the module version
// the go command recorded (go install MODULE@VERSION); a stamp wins over
// it, and a source build without one ("(devel)") stays "dev".
func TestVersionFromBuildInfo(t *testing.T) {
	defer func(orig func() (*debug.BuildInfo, bool)) { readBuildInfo = orig }(readBuildInfo)
	defer func(orig string) { version = orig }(version)
	for _, tc := range []struct {
		stamp, module, want string
	}{
		{"dev", "v0.3.1", "v0.3.1"},
		{"dev", "(devel)", "dev"},
		{"dev", "", "dev"},
		{"v0.4.0", "v0.3.1", "v0.4.0"},
	} {
		version = tc.stamp
		readBuildInfo = func() (*debug.BuildInfo, bool) {
			return &debug.BuildInfo{Main: debug.Module{Path: "github.com/kubectl-sandbox/kubectl-sandbox", Version: tc.module}}, true
		}
		if got := Get().Version; got != tc.want {
			t.Errorf("stamp %q, module %q: version %q, want %q", tc.stamp, tc.module, got, tc.want)
		}
	}
}
