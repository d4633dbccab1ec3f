package cmd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/cli-runtime/pkg/printers"

	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/client"
	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/router"
	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/sandbox"
)

// FilesOptions backs ls and cat: one claim and one sandbox path.
type FilesOptions struct {
	Router RouterFlags
	Output string

	claim, path, namespace string
	router                 router.Options

	Clients client.Factory
	genericiooptions.IOStreams
}

// complete parses CLAIM[:PATH].
func (o *FilesOptions) complete(arg string, needPath bool) error {
	claim, p, hasPath := strings.Cut(arg, ":")
	if needPath && (!hasPath || p == "") {
		return fmt.Errorf("give the file as CLAIM:PATH, not %q", arg)
	}
	if err := validateName("claim", claim); err != nil {
		return err
	}
	var err error
	if o.path, err = sandbox.RemotePath(p); err != nil {
		return err
	}
	o.claim = claim
	if o.router, err = o.Router.ToOptions(); err != nil {
		return err
	}
	o.namespace, err = o.Clients.Namespace()
	return err
}

func (o *FilesOptions) open(ctx context.Context) (*sandbox.Client, func(), error) {
	return openClaim(ctx, o.Clients, o.router, o.Router.ServerPort, o.namespace, o.claim)
}

// NewCmdLs returns `kubectl sandbox ls`.
func NewCmdLs(f client.Factory, streams genericiooptions.IOStreams) *cobra.Command {
	o := &FilesOptions{Clients: f, IOStreams: streams}
	cmd := &cobra.Command{
		Use:   "ls CLAIM[:PATH]",
		Short: "List a directory in a sandbox",
		Example: `  # List the sandbox's working directory (/app)
  kubectl sandbox ls my-sandbox

  # List a subdirectory as JSON
  kubectl sandbox ls my-sandbox:results -o json`,
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: completeNames(f, listClaimNames),
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.Output != "" && o.Output != "json" {
				return fmt.Errorf(`invalid --output %q: only "json" is supported`, o.Output)
			}
			if err := o.complete(args[0], false); err != nil {
				return err
			}
			return o.runLs(cmd.Context())
		},
	}
	o.Router.AddFlags(cmd)
	cmd.Flags().StringVarP(&o.Output, "output", "o", "", `"json" prints the entries as JSON`)
	return cmd
}

type lsEntry struct {
	Name     string    `json:"name"`
	Type     string    `json:"type"`
	Size     int64     `json:"size"`
	Modified time.Time `json:"modified"`
}

func (o *FilesOptions) runLs(ctx context.Context) error {
	c, closeRouter, err := o.open(ctx)
	if err != nil {
		return err
	}
	defer closeRouter()
	entries, err := c.List(ctx, o.path)
	var he *sandbox.HTTPError
	if errors.As(err, &he) && he.Status == 404 {
		return fmt.Errorf("%s:%s is not a directory in the sandbox", o.claim, "/"+strings.TrimPrefix(sandbox.Root+"/"+o.path, "/"))
	}
	if err != nil {
		return err
	}
	out := make([]lsEntry, 0, len(entries))
	for _, e := range entries {
		sec := int64(e.ModTime)
		out = append(out, lsEntry{Name: e.Name, Type: e.Type, Size: e.Size,
			Modified: time.Unix(sec, int64((e.ModTime-float64(sec))*1e9)).UTC().Truncate(time.Second)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	if o.Output == "json" {
		enc := json.NewEncoder(o.Out)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	return printEntries(o.Out, out)
}

func printEntries(w io.Writer, entries []lsEntry) error {
	tw := printers.GetNewTabWriter(w)
	fmt.Fprintln(tw, "NAME\tTYPE\tSIZE\tMODIFIED")
	for _, e := range entries {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\n", e.Name, e.Type, e.Size, e.Modified.Format(time.RFC3339))
	}
	return tw.Flush()
}

// NewCmdCat returns `kubectl sandbox cat`.
func NewCmdCat(f client.Factory, streams genericiooptions.IOStreams) *cobra.Command {
	o := &FilesOptions{Clients: f, IOStreams: streams}
	cmd := &cobra.Command{
		Use:   "cat CLAIM:PATH",
		Short: "Write a sandbox file to stdout",
		Example: `  # Print a result file
  kubectl sandbox cat my-sandbox:results/out.txt`,
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: completeNames(f, listClaimNames),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.complete(args[0], true); err != nil {
				return err
			}
			c, closeRouter, err := o.open(cmd.Context())
			if err != nil {
				return err
			}
			defer closeRouter()
			body, _, err := c.Download(cmd.Context(), o.path)
			if err != nil {
				return err
			}
			defer body.Close()
			_, err = io.Copy(o.Out, body)
			return err
		},
	}
	o.Router.AddFlags(cmd)
	return cmd
}
