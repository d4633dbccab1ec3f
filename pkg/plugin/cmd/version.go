package cmd

import (
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/yaml"

	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/tables"
	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/version"
)

// agentGroups are the API groups of agent-sandbox; the plugin needs v1beta1
// of both.
var agentGroups = []string{"agents.x-k8s.io", "extensions.agents.x-k8s.io"}

// VersionOptions prints the plugin version and, unless --client, which
// agent-sandbox API versions the cluster serves.
type VersionOptions struct {
	Output string
	Client bool

	Clients Factory
	genericiooptions.IOStreams
}

type versionOutput struct {
	ClientVersion version.Info `json:"clientVersion"`
	// ServerAPIs maps each agent-sandbox API group to the versions served.
	ServerAPIs map[string][]string `json:"serverAPIs,omitempty"`
	Warnings   []string            `json:"warnings,omitempty"`
}

// NewCmdVersion returns `kubectl sandbox version`.
func NewCmdVersion(f Factory, streams genericiooptions.IOStreams) *cobra.Command {
	o := &VersionOptions{Clients: f, IOStreams: streams}
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print the plugin version and the agent-sandbox APIs the cluster serves",
		Example: `  # Print the plugin version and check the cluster
  kubectl sandbox version

  # Print only the plugin version, as JSON
  kubectl sandbox version --client -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.Validate(); err != nil {
				return err
			}
			return o.Run()
		},
	}
	cmd.Flags().StringVarP(&o.Output, "output", "o", "", "One of 'yaml' or 'json'.")
	cmd.Flags().BoolVar(&o.Client, "client", false, "Print the client version only, without contacting the cluster")
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

// Run prints the version. An unreachable cluster is a warning, not an error.
func (o *VersionOptions) Run() error {
	out := versionOutput{ClientVersion: version.Get()}
	if !o.Client {
		apis, err := o.serverAPIs()
		if err != nil {
			fmt.Fprintf(o.ErrOut, "Warning: cannot read the cluster's agent-sandbox API versions: %s\n", describeError(err, "version"))
		} else {
			out.ServerAPIs = apis
			for _, g := range agentGroups {
				if !slices.Contains(apis[g], "v1beta1") {
					w := fmt.Sprintf("the cluster does not serve %s/v1beta1: kubectl sandbox needs agent-sandbox v0.5.6 or newer", g)
					out.Warnings = append(out.Warnings, w)
					fmt.Fprintln(o.ErrOut, "Warning: "+w)
				}
			}
		}
	}
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
	fmt.Fprintf(o.Out, "Client Version: %s\n", out.ClientVersion.Version)
	if out.ServerAPIs != nil {
		var parts []string
		for _, g := range agentGroups {
			parts = append(parts, fmt.Sprintf("%s %s", g, tables.OrNone(strings.Join(out.ServerAPIs[g], ","))))
		}
		fmt.Fprintf(o.Out, "Server agent-sandbox APIs: %s\n", strings.Join(parts, "; "))
	}
	return nil
}

// serverAPIs reads the served versions of the agent-sandbox groups.
func (o *VersionOptions) serverAPIs() (map[string][]string, error) {
	clients, err := o.Clients.Clients()
	if err != nil {
		return nil, err
	}
	cfg := rest.CopyConfig(clients.Config)
	cfg.Timeout = 5 * time.Second
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return nil, err
	}
	groups, err := dc.ServerGroups()
	if err != nil {
		return nil, err
	}
	apis := map[string][]string{}
	for _, g := range groups.Groups {
		if slices.Contains(agentGroups, g.Name) {
			for _, v := range g.Versions {
				apis[g.Name] = append(apis[g.Name], v.Version)
			}
			sort.Strings(apis[g.Name])
		}
	}
	return apis, nil
}
