package cmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"
	utilrand "k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/cli-runtime/pkg/printers"

	extv1beta1 "sigs.k8s.io/agent-sandbox/extensions/api/v1beta1"

	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/claims"
)

// CreateFlags are the claim-creation flags shared by create and run.
type CreateFlags struct {
	Pool, Template string
	Labels         string
	TTL            string
	ShutdownPolicy string
	Env            []string
	Timeout        time.Duration
}

// AddFlags binds the creation flags to cmd.
func (f *CreateFlags) AddFlags(cmd *cobra.Command, clients Factory, defaultTTL string) {
	cmd.Flags().StringVar(&f.Pool, "pool", "", "SandboxWarmPool to claim a sandbox from")
	cmd.Flags().StringVar(&f.Template, "template", "", "SandboxTemplate to use; resolves to the warm pool that serves it")
	cmd.Flags().StringVarP(&f.Labels, "labels", "l", "", "Labels for the claim, as key=value,key2=value2")
	cmd.Flags().StringVar(&f.TTL, "ttl", defaultTTL, "Expire the sandbox after this duration (sets lifecycle.shutdownTime); 0 means never")
	cmd.Flags().StringVar(&f.ShutdownPolicy, "shutdown-policy", "", "What happens at --ttl expiry: Delete (default), DeleteForeground or Retain")
	cmd.Flags().StringArrayVar(&f.Env, "env", nil, "Environment variable KEY=VALUE for the sandbox's first container (repeatable; forces a cold start)")
	cmd.Flags().DurationVar(&f.Timeout, "timeout", 3*time.Minute, "How long to wait for the sandbox to become Ready")
	registerNameCompletion(cmd, clients, "pool", listPoolNames)
	registerNameCompletion(cmd, clients, "template", listTemplateNames)
}

// ToSpec parses the flags into a claim spec, without API calls; Validate
// checks it, and the engine resolves a template to its pool
// (claims.ResolvePool).
func (f *CreateFlags) ToSpec(ns, name string) (claims.Spec, error) {
	spec := claims.Spec{Namespace: ns, Name: name, Pool: f.Pool, Template: f.Template, ShutdownPolicy: extv1beta1.ShutdownPolicy(f.ShutdownPolicy)}
	var err error
	if spec.Labels, err = parseLabels(f.Labels); err != nil {
		return spec, err
	}
	if spec.TTL, err = time.ParseDuration(f.TTL); err != nil || spec.TTL < 0 {
		return spec, fmt.Errorf("invalid --ttl %q: use a positive duration such as 30m or 2h, or 0 for none", f.TTL)
	}
	for _, kv := range f.Env {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return spec, fmt.Errorf("invalid --env %q: use KEY=VALUE", kv)
		}
		spec.Env = append(spec.Env, extv1beta1.EnvVar{Name: k, Value: v})
	}
	return spec, nil
}

// Validate checks spec, made by ToSpec (claims.Spec.Validate), and the
// flags that are not in it.
func (f *CreateFlags) Validate(spec claims.Spec) error {
	if err := spec.Validate(); err != nil {
		return specFlagError(err)
	}
	if f.Timeout <= 0 {
		return fmt.Errorf("--timeout must be positive")
	}
	return nil
}

// specFlags are the flags that set what a spec's *claims.InvalidError
// names, where the names differ.
var specFlags = map[string]string{"environment variable name": "--env name", "shutdown policy": "--shutdown-policy"}

// specFlagError words an error of claims.Spec.Validate by the flags.
func specFlagError(err error) error {
	var invalid *claims.InvalidError
	switch {
	case errors.Is(err, claims.ErrPoolOrTemplate):
		return errors.New("exactly one of --pool or --template is required (list them with: kubectl sandbox pools)")
	case errors.Is(err, claims.ErrPolicyWithoutTTL):
		return errors.New("--shutdown-policy needs --ttl")
	case errors.As(err, &invalid) && specFlags[invalid.What] != "":
		return fmt.Errorf("invalid %s %q: %s", specFlags[invalid.What], invalid.Value, invalid.Why)
	}
	return err
}

// warnEnv warns on stderr when --env rules out a warm sandbox.
func warnEnv(spec claims.Spec, errOut io.Writer) {
	if len(spec.Env) > 0 {
		fmt.Fprintln(errOut, "Warning: --env forces a cold start: the claim cannot adopt a warm sandbox")
	}
}

// CreateOptions creates a claim and waits for it.
type CreateOptions struct {
	CreateFlags
	PrintFlags *genericclioptions.PrintFlags
	DryRun     string
	Wait       bool

	name, namespace string
	spec            claims.Spec
	dryRun          dryRunMode
	printer         printers.ResourcePrinter

	Clients Factory
	Now     func() time.Time
	genericiooptions.IOStreams
}

// NewCmdCreate returns `kubectl sandbox create`.
func NewCmdCreate(f Factory, streams genericiooptions.IOStreams) *cobra.Command {
	o := &CreateOptions{
		PrintFlags: genericclioptions.NewPrintFlags("created"),
		Wait:       true, Clients: f, Now: clock, IOStreams: streams,
	}
	cmd := &cobra.Command{
		Use:   "create [NAME] (--pool POOL | --template TEMPLATE)",
		Short: "Create a sandbox claim and wait until its sandbox is ready",
		Example: `  # Claim a sandbox from the warm pool "python" and wait until it is ready
  kubectl sandbox create --pool python

  # Name the claim, use whichever pool serves the template, expire it in an hour
  kubectl sandbox create my-sandbox --template python --ttl 1h

  # Print the manifest instead of creating it
  kubectl sandbox create my-sandbox --pool python --dry-run=client -o yaml`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.Complete(args); err != nil {
				return err
			}
			if err := o.Validate(); err != nil {
				return err
			}
			return o.Run(cmd.Context())
		},
	}
	o.AddFlags(cmd, f, "0")
	// --template names a SandboxTemplate here; go templates still work as -o go-template=...
	o.PrintFlags.TemplatePrinterFlags.TemplateArgument = nil
	o.PrintFlags.AddFlags(cmd)
	addDryRunFlag(cmd, &o.DryRun)
	cmd.Flags().BoolVar(&o.Wait, "wait", o.Wait, "Wait until the sandbox is Ready")
	return cmd
}

// Complete takes the name and the namespace, and parses the flags into the
// spec, the dry-run mode and the printer.
func (o *CreateOptions) Complete(args []string) error {
	if len(args) == 1 {
		o.name = args[0]
	}
	var err error
	if o.namespace, err = o.Clients.Namespace(); err != nil {
		return err
	}
	if o.spec, err = o.ToSpec(o.namespace, o.name); err != nil {
		return err
	}
	if o.dryRun, err = parseDryRun(o.DryRun); err != nil {
		return err
	}
	o.printer, err = o.PrintFlags.ToPrinter()
	return err
}

// Validate checks the spec; it makes no API calls.
func (o *CreateOptions) Validate() error { return o.CreateFlags.Validate(o.spec) }

// Run creates the claim and, with --wait, waits for it. A claim that fails
// to become Ready is deleted, so a failed create leaves nothing behind.
func (o *CreateOptions) Run(ctx context.Context) error {
	clients, err := o.Clients.Clients()
	if err != nil {
		return err
	}
	if err := claims.ResolvePool(ctx, clients.Ext, &o.spec); err != nil {
		return err
	}
	claim := claims.NewClaim(o.spec, o.Now())
	warnEnv(o.spec, o.ErrOut)
	switch {
	case o.dryRun == dryRunClient:
		if claim.Name == "" {
			claim.Name, claim.GenerateName = claims.GenerateNamePrefix+utilrand.String(5), ""
		}
		return o.print(claim, "created"+o.dryRun.suffix())
	case o.dryRun == dryRunServer || !o.Wait:
		created, err := claims.Create(ctx, clients.Ext, claim, o.dryRun == dryRunServer)
		if err != nil {
			return err
		}
		return o.print(created, "created"+o.dryRun.suffix())
	}
	p := &claimProgress{errOut: o.ErrOut}
	defer p.stop()
	hooks := p.hooks(func(c *extv1beta1.SandboxClaim) {
		if o.namesOnly() {
			_ = o.print(c, "created")
		}
	})
	hooks.Pods = clients.Core
	ready, err := claims.CreateAndWait(ctx, clients.Ext, claim, o.Timeout, hooks)
	p.stop()
	if err != nil {
		return err
	}
	return o.print(ready, fmt.Sprintf("ready (sandbox %s)", claims.SandboxName(ready)))
}

// namesOnly says whether output is kubectl's "NAME created" lines (no -o).
func (o *CreateOptions) namesOnly() bool {
	return o.PrintFlags.OutputFormat == nil || *o.PrintFlags.OutputFormat == ""
}

// print prints obj with -o, or as a kubectl name line with operation op.
func (o *CreateOptions) print(obj *extv1beta1.SandboxClaim, op string) error {
	if o.namesOnly() {
		return (&printers.NamePrinter{Operation: op}).PrintObj(obj, o.Out)
	}
	return o.printer.PrintObj(obj, o.Out)
}
