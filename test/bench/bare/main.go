// Command bare is the size baseline of the benchmarks: a cobra command with
// genericclioptions ConfigFlags and nothing else.
package main

import (
	"os"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
)

func main() {
	cmd := &cobra.Command{Use: "bare", Run: func(*cobra.Command, []string) {}}
	genericclioptions.NewConfigFlags(true).AddFlags(cmd.PersistentFlags())
	if err := cmd.Execute(); err != nil {
		os.Exit(1)
	}
}
