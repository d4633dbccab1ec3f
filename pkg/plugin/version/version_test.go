package version

import (
	"runtime"
	"testing"
)

func TestGetUnstamped(t *testing.T) {
	got := Get()
	want := Info{Version: "dev", GoVersion: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	if got != want {
		t.Errorf("got %+v, want %+v", got, want)
	}
}
