package cmd

import (
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"sigs.k8s.io/yaml"

	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/version"
)

// VersionOptions prints the plugin version.
type VersionOptions struct {
	Output string

	genericiooptions.IOStreams
}

type versionOutput struct {
	ClientVersion version.Info `json:"clientVersion"`
}

// NewCmdVersion returns `kubectl sandbox version`.
func NewCmdVersion(streams genericiooptions.IOStreams) *cobra.Command {
	o := &VersionOptions{IOStreams: streams}
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print the plugin version",
		Example: `  # Print the version of the plugin
  kubectl sandbox version

  # Print it as JSON
  kubectl sandbox version -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.Validate(); err != nil {
				return err
			}
			return o.Run()
		},
	}
	cmd.Flags().StringVarP(&o.Output, "output", "o", "", "One of 'yaml' or 'json'.")
	return cmd
}

// Validate checks the output format.
func (o *VersionOptions) Validate() error {
	switch o.Output {
	case "", "json", "yaml":
		return nil
	}
	return fmt.Errorf("--output must be 'yaml' or 'json', not %q", o.Output)
}

// Run prints the version.
func (o *VersionOptions) Run() error {
	out := versionOutput{ClientVersion: version.Get()}
	switch o.Output {
	case "json":
		b, err := json.MarshalIndent(out, "", "  ")
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(o.Out, "%s\n", b)
		return err
	case "yaml":
		b, err := yaml.Marshal(out)
		if err != nil {
			return err
		}
		_, err = o.Out.Write(b)
		return err
	}
	_, err := fmt.Fprintf(o.Out, "Client Version: %s\n", out.ClientVersion.Version)
	return err
}
