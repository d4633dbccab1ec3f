package cmd

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/discovery"
	appsv1client "k8s.io/client-go/kubernetes/typed/apps/v1"
	coordinationv1client "k8s.io/client-go/kubernetes/typed/coordination/v1"
	"k8s.io/client-go/rest"

	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/doctor"
	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/session"
)

// DoctorOptions checks a cluster for what kubectl sandbox needs.
type DoctorOptions struct {
	Connect      ConnectFlags
	Pool         string
	Probe        bool
	ProbeTimeout time.Duration
	Output       string

	namespace string
	session   session.Options

	Clients Factory
	genericiooptions.IOStreams
}

// errDoctorFailed is a doctor run with a failed check (already printed).
type errDoctorFailed struct{ n int }

func (e *errDoctorFailed) Error() string { return fmt.Sprintf("%d check(s) failed", e.n) }

// NewCmdDoctor returns `kubectl sandbox doctor`.
func NewCmdDoctor(f Factory, streams genericiooptions.IOStreams) *cobra.Command {
	o := &DoctorOptions{Clients: f, IOStreams: streams, ProbeTimeout: time.Minute}
	cmd := &cobra.Command{
		Use:   "doctor [--gateway G] [--pool P] [--probe]",
		Short: "Check that the cluster has what kubectl sandbox needs",
		Long: `Check, in order, one line each with a verdict and a fix: the API server; the
agent-sandbox APIs; a controller that reconciles them; templates and pools;
the sandbox router (its Service's ready pod, and the URL when given), with
a routed request that shows whether it takes the credential the verbs
present; with --gateway, the Gateway's class Accepted, the Gateway
Programmed, an HTTPRoute attached to it and a request through it; what you
may do in the namespace. --probe then claims a sandbox, runs 'true' in it
and deletes it, with timings. Exits 1 when a check fails.`,
		Example: `  # Check the current namespace
  kubectl sandbox doctor

  # Check a Gateway too, and run a real sandbox from pool python
  kubectl sandbox doctor --gateway external-http-gateway --pool python --probe -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.Complete(); err != nil {
				return err
			}
			if err := o.Validate(); err != nil {
				return err
			}
			return o.Run(cmd.Context())
		},
	}
	o.Connect.AddFlags(cmd)
	cmd.Flags().StringVar(&o.Pool, "pool", "", "A pool to check in particular (and to probe)")
	cmd.Flags().BoolVar(&o.Probe, "probe", false, "Claim a sandbox, run 'true' in it and delete it")
	cmd.Flags().DurationVar(&o.ProbeTimeout, "probe-timeout", o.ProbeTimeout, "How long the probe's claim may take to become Ready")
	cmd.Flags().StringVarP(&o.Output, "output", "o", "", `"json" prints the results as JSON`)
	return cmd
}

// Complete reads the router flags and the namespace.
func (o *DoctorOptions) Complete() error {
	var err error
	o.session, o.namespace, err = o.Connect.Complete(o.Clients)
	return err
}

// Validate checks the flags; it makes no API calls.
func (o *DoctorOptions) Validate() error {
	if o.Pool != "" {
		if err := validateName("pool", o.Pool); err != nil {
			return err
		}
	}
	if o.Output != "" && o.Output != "json" {
		return fmt.Errorf(`invalid --output %q: only "json" is supported`, o.Output)
	}
	if o.ProbeTimeout <= 0 {
		return fmt.Errorf("--probe-timeout must be positive")
	}
	return nil
}

// doctorLine is one result as printed and as JSON.
type doctorLine struct {
	doctor.Result
	Hint   string `json:"hint,omitempty"`
	TookMS int64  `json:"tookMs"`
}

// Run runs the checks, printing each as it ends.
func (o *DoctorOptions) Run(ctx context.Context) error {
	clients, err := o.Clients.Clients()
	if err != nil {
		return err
	}
	cfg := rest.CopyConfig(clients.Config)
	cfg.Timeout = 10 * time.Second
	disco, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return err
	}
	// Only doctor reads the controller's Deployment and Lease.
	withController := *clients
	if withController.Apps, err = appsv1client.NewForConfig(cfg); err != nil {
		return err
	}
	if withController.Coordination, err = coordinationv1client.NewForConfig(cfg); err != nil {
		return err
	}
	var lines []doctorLine
	results := doctor.Run(ctx, &withController, disco, doctor.Options{
		Namespace: o.namespace, Session: o.session, Pool: o.Pool, Probe: o.Probe, ProbeTimeout: o.ProbeTimeout, Now: clock,
	}, func(r doctor.Result) {
		l := doctorLine{Result: r, Hint: doctorHint(r, o.namespace), TookMS: r.Took.Milliseconds()}
		lines = append(lines, l)
		if o.Output == "" {
			fmt.Fprintf(o.Out, "%-4s  %-19s %s%s\n", strings.ToUpper(string(r.Status)), r.Check, r.Detail, l.Hint)
		}
	})
	if ctx.Err() != nil {
		return context.Cause(ctx)
	}
	if o.Output == "json" {
		enc := json.NewEncoder(o.Out)
		enc.SetIndent("", "  ")
		if err := enc.Encode(lines); err != nil {
			return err
		}
	}
	if doctor.Failed(results) {
		n := 0
		for _, r := range results {
			if r.Status == doctor.Fail {
				n++
			}
		}
		return &errDoctorFailed{n: n}
	}
	return nil
}

// doctorHint is the fix for a check's problem, as " (fix: ...)".
func doctorHint(r doctor.Result, ns string) string {
	if r.Problem == nil {
		return ""
	}
	if r.Problem == doctor.RouterRefused && r.Err != nil {
		// The refusal's own hint names the router's mode and the fix.
		if h := hintFor(r.Err, "doctor", cliUser); strings.HasPrefix(h, ": ") {
			return " (fix" + h + ")"
		}
	}
	return " (fix: " + r.Problem.Fix(ns) + ")"
}
