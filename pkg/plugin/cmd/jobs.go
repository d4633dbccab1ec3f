package cmd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/util/duration"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/cli-runtime/pkg/printers"

	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/jobs"
	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/python"
	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/session"
)

// JobsOptions lists the background jobs of one sandbox (exec --detach).
type JobsOptions struct {
	Connect ConnectFlags
	Output  string

	claim, job, namespace string
	session               session.Options

	Clients Factory
	// Now is the clock of AGE.
	Now func() time.Time
	genericiooptions.IOStreams
}

// NewCmdJobs returns `kubectl sandbox jobs`.
func NewCmdJobs(f Factory, streams genericiooptions.IOStreams) *cobra.Command {
	o := &JobsOptions{Clients: f, IOStreams: streams, Now: time.Now}
	cmd := &cobra.Command{
		Use:   "jobs CLAIM [JOB]",
		Short: "List the background jobs of a sandbox",
		Long: `List the jobs that exec --detach started in a sandbox, from any machine:
their state (Running, Exited with its exit code, or Lost when nothing
waits for them any more), how much they printed, their command. A job's
state is kept in the sandbox (under .kubectl-sandbox/jobs), so jobs go with
it.`,
		Example: `  # The jobs of a sandbox
  kubectl sandbox jobs my-sandbox

  # One job, for a script
  kubectl sandbox jobs my-sandbox job-1a2b3c4d -o json`,
		Args:              cobra.RangeArgs(1, 2),
		ValidArgsFunction: completeNames(f, listClaimNames),
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
	o.Connect.AddFlags(cmd)
	cmd.Flags().StringVarP(&o.Output, "output", "o", "", `"json" prints the jobs as a JSON list (one job: an object)`)
	return cmd
}

// Complete takes the claim, the job, the router flags and the namespace.
func (o *JobsOptions) Complete(args []string) error {
	o.claim = args[0]
	if len(args) > 1 {
		o.job = args[1]
	}
	var err error
	o.session, o.namespace, err = o.Connect.Complete(o.Clients)
	return err
}

// Validate checks the names and -o; it makes no API calls.
func (o *JobsOptions) Validate() error {
	if err := validateName("claim", o.claim); err != nil {
		return err
	}
	if o.job != "" {
		if err := jobs.CheckID(o.job); err != nil {
			return err
		}
	}
	if o.Output != "" && o.Output != "json" {
		return fmt.Errorf(`invalid --output %q: only "json" is supported`, o.Output)
	}
	return nil
}

// Run lists the jobs, or shows one.
func (o *JobsOptions) Run(ctx context.Context) error {
	rt, closeSession, err := openRuntime(ctx, o.Clients, o.namespace, o.session, o.claim)
	if err != nil {
		return err
	}
	defer closeSession()
	var list []jobs.Job
	if o.job != "" {
		j, err := jobs.Get(ctx, rt, o.job)
		if err != nil {
			return err
		}
		if o.Output == "json" {
			return json.NewEncoder(o.Out).Encode(j)
		}
		list = []jobs.Job{*j}
	} else if list, err = jobs.List(ctx, rt); err != nil {
		return err
	}
	if o.Output == "json" {
		if list == nil {
			list = []jobs.Job{}
		}
		return json.NewEncoder(o.Out).Encode(list)
	}
	if len(list) == 0 {
		fmt.Fprintf(o.ErrOut, "No jobs in sandboxclaim %q.\n", o.claim)
		return nil
	}
	return printJobs(o.Out, list, o.Now())
}

// printJobs prints jobs as a table: NAME first, AGE last.
func printJobs(w io.Writer, list []jobs.Job, now time.Time) error {
	tw := printers.GetNewTabWriter(w)
	fmt.Fprintln(tw, "NAME\tSTATUS\tEXIT\tOUTPUT\tCOMMAND\tAGE")
	for _, j := range list {
		exit := "<none>"
		if j.ExitCode != nil {
			exit = strconv.Itoa(*j.ExitCode)
		}
		age := "<unknown>"
		if !j.Started.IsZero() {
			age = duration.HumanDuration(now.Sub(j.Started))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\n", j.ID, j.State, exit, j.OutputBytes, commandLine(j.Command), age)
	}
	return tw.Flush()
}

// commandLine shows an argv on one line, quoted as a shell would take it,
// shortened past 60 characters.
func commandLine(argv []string) string {
	if len(argv) == 0 {
		return "<unknown>"
	}
	line, err := python.JoinArgv(argv)
	if err != nil {
		line = strings.Join(argv, " ")
	}
	line = strings.NewReplacer("\n", `\n`, "\t", `\t`, "\r", `\r`).Replace(line)
	if r := []rune(line); len(r) > 60 {
		line = string(r[:59]) + "…"
	}
	return line
}

// KillOptions sends a signal to a background job's process group.
type KillOptions struct {
	Connect ConnectFlags
	Signal  string
	Timeout time.Duration

	claim, job, signal, namespace string
	session                       session.Options

	Clients Factory
	// Poll is how often the job is asked whether it has ended.
	Poll time.Duration
	genericiooptions.IOStreams
}

// NewCmdKill returns `kubectl sandbox kill`.
func NewCmdKill(f Factory, streams genericiooptions.IOStreams) *cobra.Command {
	return newKillCommand(&KillOptions{Clients: f, IOStreams: streams, Signal: "TERM", Timeout: 10 * time.Second})
}

func newKillCommand(o *KillOptions) *cobra.Command {
	f := o.Clients
	cmd := &cobra.Command{
		Use:   "kill CLAIM JOB [--signal SIGNAL]",
		Short: "Send a signal to a background job and wait for it to end",
		Long: `Send a signal (TERM by default) to the whole process group of a job that
exec --detach started, and wait (--timeout) for it to end; print its exit
code. A job that has ended already is left alone.`,
		Example: `  # Stop a job
  kubectl sandbox kill my-sandbox job-1a2b3c4d

  # Kill it outright
  kubectl sandbox kill my-sandbox job-1a2b3c4d --signal KILL`,
		Args:              cobra.ExactArgs(2),
		ValidArgsFunction: completeNames(f, listClaimNames),
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
	o.Connect.AddFlags(cmd)
	cmd.Flags().StringVar(&o.Signal, "signal", o.Signal, "The signal: "+strings.Join(jobs.Signals, ", ")+" (a number, or a SIG prefix, too)")
	cmd.Flags().DurationVar(&o.Timeout, "timeout", o.Timeout, "How long to wait for the job to end (0: do not wait)")
	return cmd
}

// Complete takes the claim, the job, the router flags and the namespace.
func (o *KillOptions) Complete(args []string) error {
	o.claim, o.job = args[0], args[1]
	var err error
	o.session, o.namespace, err = o.Connect.Complete(o.Clients)
	return err
}

// Validate checks the names, the signal and the timeout; it makes no API
// calls.
func (o *KillOptions) Validate() error {
	if err := validateName("claim", o.claim); err != nil {
		return err
	}
	if err := jobs.CheckID(o.job); err != nil {
		return err
	}
	var err error
	if o.signal, err = jobs.CheckSignal(o.Signal); err != nil {
		return err
	}
	if o.Timeout < 0 {
		return errors.New("--timeout must not be negative")
	}
	return nil
}

// StillRunningError is a job that a signal did not end in time.
type StillRunningError struct {
	Claim, Job, Signal string
	After              time.Duration
}

func (e *StillRunningError) Error() string {
	return fmt.Sprintf("job %s still runs %s after SIG%s", e.Job, e.After, e.Signal)
}

// Run signals the job and waits for its end.
func (o *KillOptions) Run(ctx context.Context) error {
	rt, closeSession, err := openRuntime(ctx, o.Clients, o.namespace, o.session, o.claim)
	if err != nil {
		return err
	}
	defer closeSession()
	j, sent, err := jobs.Kill(ctx, rt, o.job, o.signal)
	if err != nil {
		return err
	}
	switch {
	case !sent && j.State != jobs.Running:
		fmt.Fprintf(o.Out, "job/%s had ended already (%s)\n", j.ID, endedHow(j))
		return nil
	case j.State != jobs.Running:
		fmt.Fprintf(o.Out, "job/%s killed (%s)\n", j.ID, endedHow(j))
		return nil
	}
	if o.Timeout == 0 {
		fmt.Fprintf(o.Out, "job/%s signalled (SIG%s)\n", j.ID, o.signal)
		return nil
	}
	wctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	j, err = jobs.Wait(wctx, rt, o.job, o.Poll)
	switch {
	case ctx.Err() != nil:
		return context.Cause(ctx)
	case wctx.Err() != nil:
		return &StillRunningError{Claim: o.claim, Job: o.job, Signal: o.signal, After: o.Timeout}
	case err != nil:
		return err
	}
	fmt.Fprintf(o.Out, "job/%s killed (%s)\n", j.ID, endedHow(j))
	return nil
}

// endedHow says how a job that is not running ended.
func endedHow(j *jobs.Job) string {
	if j.ExitCode != nil {
		return fmt.Sprintf("exit code %d", *j.ExitCode)
	}
	return "lost: no exit code was written"
}

// runDetached starts the command as a background job and prints its name
// (or, with -o json, the job).
func (o *ExecOptions) runDetached(ctx context.Context, s *session.Session) error {
	rt, _, err := s.Open(ctx, o.claims[0])
	if err != nil {
		return err
	}
	j, err := jobs.Start(ctx, rt, o.JobName, o.command())
	if err != nil {
		return err
	}
	if o.Output == "json" {
		return json.NewEncoder(o.Out).Encode(j)
	}
	fmt.Fprintln(o.Out, j.ID)
	return nil
}

// LostJobError is a job followed to its end that ended without an exit
// code.
type LostJobError struct{ Claim, Job string }

func (e *LostJobError) Error() string {
	return fmt.Sprintf("job %s of sandboxclaim %q was lost: it is not running and no exit code was written (its monitor was killed)", e.Job, e.Claim)
}

// runJob prints a background job's output from --offset; with -f it
// follows it to the job's end and exits with its exit code.
func (o *LogsOptions) runJob(ctx context.Context) error {
	rt, closeSession, err := openRuntime(ctx, o.Clients, o.namespace, o.jobSession, o.claim)
	if err != nil {
		return err
	}
	defer closeSession()
	if !o.Follow {
		for from := o.Offset; ; {
			ch, err := jobs.Read(ctx, rt, o.Job, from, jobs.MaxChunk)
			if err != nil {
				return err
			}
			if _, err := o.Out.Write(ch.Data); err != nil {
				return err
			}
			if len(ch.Data) < jobs.MaxChunk {
				return nil
			}
			from = ch.Next
		}
	}
	j, _, err := jobs.Follow(ctx, rt, o.Job, o.Offset, o.Out, o.JobPoll)
	if err != nil {
		return err
	}
	if j.ExitCode == nil {
		return &LostJobError{Claim: o.claim, Job: o.Job}
	}
	return exitCode(*j.ExitCode)
}
