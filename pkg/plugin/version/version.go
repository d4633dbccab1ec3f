// Package version holds the build stamp of the plugin binary.
package version

import (
	"runtime"
	"runtime/debug"
)

// Stamped at build time with -ldflags "-X ...". Unstamped builds report
// the module's version when they have one (go install MODULE@VERSION),
// else "dev".
var (
	version = "dev"
	commit  = ""
	date    = ""
)

// readBuildInfo is debug.ReadBuildInfo; tests replace it.
var readBuildInfo = debug.ReadBuildInfo

// Info describes the plugin build.
type Info struct {
	Version   string `json:"version"`
	Commit    string `json:"commit,omitempty"`
	Date      string `json:"date,omitempty"`
	GoVersion string `json:"goVersion"`
	Platform  string `json:"platform"`
}

// Get returns the build information of the running binary.
func Get() Info {
	return Info{
		Version:   resolved(),
		Commit:    commit,
		Date:      date,
		GoVersion: runtime.Version(),
		Platform:  runtime.GOOS + "/" + runtime.GOARCH,
	}
}

// resolved is the stamped version, or else the main module's version that
// the go command recorded in the binary: the one asked for by go install
// MODULE@VERSION, or one derived from version control by go build (Go
// 1.24 and later). A build of the source tree without either is "dev".
func resolved() string {
	if version != "dev" {
		return version
	}
	if bi, ok := readBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return version
}
