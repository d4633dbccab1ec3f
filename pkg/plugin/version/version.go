// Package version holds the build stamp of the plugin binary.
package version

import "runtime"

// Stamped at build time with -ldflags "-X ...". Unstamped builds report "dev".
var (
	version = "dev"
	commit  = ""
	date    = ""
)

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
		Version:   version,
		Commit:    commit,
		Date:      date,
		GoVersion: runtime.Version(),
		Platform:  runtime.GOOS + "/" + runtime.GOARCH,
	}
}
