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

	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/python"
	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/sandbox"
	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/session"
)

// FilesOptions backs ls and cat: one claim and one sandbox path.
type FilesOptions struct {
	Connect ConnectFlags
	Output  string

	arg, claim, path, namespace string
	needPath                    bool
	session                     session.Options

	Clients Factory
	genericiooptions.IOStreams
}

// Complete takes CLAIM[:PATH], the router flags and the namespace.
func (o *FilesOptions) Complete(args []string) error {
	o.arg = args[0]
	var err error
	if o.session, o.namespace, err = o.Connect.Complete(o.Clients); err != nil {
		return err
	}
	var p string
	o.claim, p, _ = strings.Cut(o.arg, ":")
	o.path, err = session.RemotePath(p)
	return err
}

// Validate parses CLAIM[:PATH] and checks -o; it makes no API calls.
func (o *FilesOptions) Validate() error {
	if o.Output != "" && o.Output != "json" {
		return fmt.Errorf(`invalid --output %q: only "json" is supported`, o.Output)
	}
	if _, p, _ := strings.Cut(o.arg, ":"); o.needPath && p == "" {
		return fmt.Errorf("give the file as CLAIM:PATH, not %q", o.arg)
	}
	return validateName("claim", o.claim)
}

// open resolves the claim and returns its runtime; close ends the session.
func (o *FilesOptions) open(ctx context.Context) (rt sandbox.Runtime, close func(), err error) {
	return openRuntime(ctx, o.Clients, o.namespace, o.session, o.claim)
}

// openRuntime resolves a Ready claim and returns its sandbox's runtime; close
// ends the session (the way to the router, a sandboxd port-forward).
func openRuntime(ctx context.Context, f Factory, ns string, opts session.Options, claim string) (rt sandbox.Runtime, close func(), err error) {
	clients, err := f.Clients()
	if err != nil {
		return nil, nil, err
	}
	s := session.New(clients, ns, opts)
	rt, _, err = s.Open(ctx, claim)
	if err != nil {
		s.Close()
		return nil, nil, err
	}
	return rt, s.Close, nil
}

func newFilesCommand(o *FilesOptions, cmd *cobra.Command, run func(context.Context, sandbox.Runtime) error) *cobra.Command {
	cmd.Args = cobra.ExactArgs(1)
	cmd.RunE = func(c *cobra.Command, args []string) error {
		if err := o.Complete(args); err != nil {
			return err
		}
		if err := o.Validate(); err != nil {
			return err
		}
		rt, closeSession, err := o.open(c.Context())
		if err != nil {
			return err
		}
		defer closeSession()
		return run(c.Context(), rt)
	}
	o.Connect.AddFlags(cmd)
	return cmd
}

// NewCmdLs returns `kubectl sandbox ls`.
func NewCmdLs(f Factory, streams genericiooptions.IOStreams) *cobra.Command {
	o := &FilesOptions{Clients: f, IOStreams: streams}
	cmd := newFilesCommand(o, &cobra.Command{
		Use:   "ls CLAIM[:PATH]",
		Short: "List a directory in a sandbox",
		Example: `  # List the sandbox's working directory (/app)
  kubectl sandbox ls my-sandbox

  # List a subdirectory as JSON
  kubectl sandbox ls my-sandbox:results -o json`,
		ValidArgsFunction: completeNames(f, listClaimNames),
	}, o.runLs)
	cmd.Flags().StringVarP(&o.Output, "output", "o", "", `"json" prints the entries as JSON`)
	return cmd
}

type lsEntry struct {
	Name     string    `json:"name"`
	Type     string    `json:"type"`
	Size     int64     `json:"size"`
	Modified time.Time `json:"modified"`
}

func (o *FilesOptions) runLs(ctx context.Context, rt sandbox.Runtime) error {
	entries, err := rt.List(ctx, o.path)
	if errors.Is(err, sandbox.ErrNotFound) {
		return fmt.Errorf("%s:%s is not a directory in the sandbox", o.claim, "/"+strings.TrimPrefix(python.Root+"/"+o.path, "/"))
	}
	if err != nil {
		return err
	}
	out := make([]lsEntry, 0, len(entries))
	for _, e := range entries {
		out = append(out, lsEntry{Name: e.Name, Type: e.Type, Size: e.Size, Modified: e.ModTime.Truncate(time.Second)})
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
func NewCmdCat(f Factory, streams genericiooptions.IOStreams) *cobra.Command {
	o := &FilesOptions{Clients: f, IOStreams: streams, needPath: true}
	return newFilesCommand(o, &cobra.Command{
		Use:   "cat CLAIM:PATH",
		Short: "Write a sandbox file to stdout",
		Example: `  # Print a result file
  kubectl sandbox cat my-sandbox:results/out.txt`,
		ValidArgsFunction: completeNames(f, listClaimNames),
	}, func(ctx context.Context, rt sandbox.Runtime) error {
		return catFile(ctx, rt, o.path, o.Out, nil)
	})
}
