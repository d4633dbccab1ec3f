package cmd

import (
	"testing"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"
)

// TestNoFlagShadowsAGlobalOne: every command's own flags merge with the
// global ones (kubectl's -s/--server, -n, ...) without a clash; cobra
// panics at run time otherwise, as `kill -s` once did.
func TestNoFlagShadowsAGlobalOne(t *testing.T) {
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		defer func() {
			if r := recover(); r != nil {
				t.Errorf("%s: %v", c.CommandPath(), r)
			}
		}()
		_ = c.InheritedFlags()
		_ = c.LocalFlags()
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(NewCmdSandbox(genericiooptions.NewTestIOStreamsDiscard()))
}
