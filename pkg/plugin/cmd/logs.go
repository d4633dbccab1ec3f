package cmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"

	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/claims"
	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/jobs"
	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/session"
)

// LogsOptions prints the logs of a claim's sandbox pod, as kubectl logs.
type LogsOptions struct {
	Follow, Timestamps, Previous bool
	Since                        time.Duration
	SinceTime, Container         string
	Tail, LimitBytes             int64
	// Job, when set, prints a background job's output (from byte Offset)
	// instead, through the runtime (Connect).
	Job     string
	Offset  int64
	Connect ConnectFlags

	claim, namespace string
	opts             corev1.PodLogOptions

	Clients Factory
	// OpenLogs opens the log stream of a pod (pods/log).
	OpenLogs func(ctx context.Context, pods corev1client.PodsGetter, pod *corev1.Pod, opts *corev1.PodLogOptions) (io.ReadCloser, error)
	// Drain is how long a follow goes on after the pod is gone, for the
	// last lines to arrive, when the server does not end it itself.
	Drain time.Duration
	// JobPoll is how often a followed job is asked for more output.
	JobPoll    time.Duration
	jobSession session.Options
	genericiooptions.IOStreams
}

// NewCmdLogs returns `kubectl sandbox logs`.
func NewCmdLogs(f Factory, streams genericiooptions.IOStreams) *cobra.Command {
	return newLogsCommand(newLogsOptions(f, streams))
}

// newLogsOptions are the defaults, with the real dependencies.
func newLogsOptions(f Factory, streams genericiooptions.IOStreams) *LogsOptions {
	return &LogsOptions{Clients: f, IOStreams: streams, Tail: -1, OpenLogs: openPodLogs, Drain: time.Second}
}

// openPodLogs opens a pod's log stream through the API server.
func openPodLogs(ctx context.Context, pods corev1client.PodsGetter, pod *corev1.Pod, opts *corev1.PodLogOptions) (io.ReadCloser, error) {
	return pods.Pods(pod.Namespace).GetLogs(pod.Name, opts).Stream(ctx)
}

func newLogsCommand(o *LogsOptions) *cobra.Command {
	f := o.Clients
	cmd := &cobra.Command{
		Use:   "logs CLAIM [-f] [--since=DURATION|--since-time=TIME] [--tail=N] [--timestamps] [-c CONTAINER]",
		Short: "Print the logs of a sandbox's pod",
		Long: `Print the logs of the pod of a claim's sandbox (pods/log), with kubectl logs'
flags. With -f it follows them until Ctrl-C or until the pod goes away.

With --job, print the output (stdout and stderr together, as written) of a
background job that exec --detach started, from byte --offset; with -f
follow it until the job ends, and exit with its exit code.`,
		Example: `  # The runtime's log
  kubectl sandbox logs my-sandbox

  # Follow it, starting from the last 10 lines, with timestamps
  kubectl sandbox logs my-sandbox -f --tail 10 --timestamps

  # Follow a background job's output from its start to its end
  kubectl sandbox logs my-sandbox --job job-1a2b3c4d -f`,
		Args:              cobra.ExactArgs(1),
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
	fs := cmd.Flags()
	fs.BoolVarP(&o.Follow, "follow", "f", false, "Specify if the logs should be streamed.")
	fs.BoolVar(&o.Timestamps, "timestamps", false, "Include timestamps on each line in the log output")
	fs.BoolVarP(&o.Previous, "previous", "p", false, "Print the logs of the previous instance of the container, if it exists.")
	fs.DurationVar(&o.Since, "since", 0, "Only return logs newer than a relative duration like 5s, 2m, or 3h. Only one of since-time / since may be used.")
	fs.StringVar(&o.SinceTime, "since-time", "", "Only return logs after a specific date (RFC3339). Only one of since-time / since may be used.")
	fs.Int64Var(&o.Tail, "tail", o.Tail, "Lines of recent log file to display. Defaults to -1, showing all log lines.")
	fs.Int64Var(&o.LimitBytes, "limit-bytes", 0, "Maximum bytes of logs to return. Defaults to no limit.")
	fs.StringVarP(&o.Container, "container", "c", "", "Print the logs of this container (default: the pod's first)")
	fs.StringVar(&o.Job, "job", "", "Print the output of this background job (exec --detach) instead")
	fs.Int64Var(&o.Offset, "offset", 0, "With --job, start at this byte of the job's output")
	o.Connect.AddFlags(cmd)
	return cmd
}

// Complete takes the claim and the namespace, and turns the flags into
// the log request's options.
func (o *LogsOptions) Complete(args []string) error {
	o.claim = args[0]
	var err error
	if o.Job != "" {
		o.jobSession, o.namespace, err = o.Connect.Complete(o.Clients)
		return err
	}
	if o.namespace, err = o.Clients.Namespace(); err != nil {
		return err
	}
	o.opts = corev1.PodLogOptions{Container: o.Container, Follow: o.Follow, Previous: o.Previous, Timestamps: o.Timestamps}
	if o.Since > 0 {
		secs := int64(o.Since.Round(time.Second).Seconds())
		o.opts.SinceSeconds = &secs
	}
	if o.SinceTime != "" {
		t, err := time.Parse(time.RFC3339, o.SinceTime)
		if err != nil {
			return fmt.Errorf("invalid --since-time %q: use RFC3339, as in 2026-01-02T15:04:05Z", o.SinceTime)
		}
		mt := metav1.NewTime(t)
		o.opts.SinceTime = &mt
	}
	if o.Tail >= 0 {
		o.opts.TailLines = &o.Tail
	}
	if o.LimitBytes > 0 {
		o.opts.LimitBytes = &o.LimitBytes
	}
	return nil
}

// Validate checks the flags as kubectl logs does; it makes no API calls.
func (o *LogsOptions) Validate() error {
	if err := validateName("claim", o.claim); err != nil {
		return err
	}
	switch {
	case o.Since != 0 && o.SinceTime != "":
		return errors.New("only one of --since and --since-time may be used")
	case o.Since < 0:
		return errors.New("--since must be positive")
	case o.Tail < -1:
		return errors.New("--tail must be -1 (all lines) or more")
	case o.LimitBytes < 0:
		return errors.New("--limit-bytes must not be negative")
	}
	return o.validateJob()
}

// validateJob checks --job and --offset, which take none of the pod log's
// own flags.
func (o *LogsOptions) validateJob() error {
	switch {
	case o.Job == "" && o.Offset != 0:
		return errors.New("--offset is for a job's output: give --job")
	case o.Job == "":
		return nil
	case o.Offset < 0:
		return errors.New("--offset must not be negative")
	case o.Previous || o.Timestamps || o.Since != 0 || o.SinceTime != "" || o.Tail != -1 || o.LimitBytes != 0 || o.Container != "":
		return errors.New("--job takes only -f and --offset: a job's output is a file in the sandbox, not a container's log")
	}
	return jobs.CheckID(o.Job)
}

// Run streams the logs. A follow ends when the server ends it, when the pod
// goes (deleted, replaced or ended: a success), or on Ctrl-C.
func (o *LogsOptions) Run(ctx context.Context) error {
	if o.Job != "" {
		return o.runJob(ctx)
	}
	clients, err := o.Clients.Clients()
	if err != nil {
		return err
	}
	pod, err := claims.PodOf(ctx, clients, o.namespace, o.claim)
	if err != nil {
		return err
	}
	if o.opts.Container == "" && len(pod.Spec.Containers) > 0 {
		o.opts.Container = pod.Spec.Containers[0].Name
	} else if o.opts.Container != "" && !hasContainer(pod, o.opts.Container) {
		return fmt.Errorf("container %q is not in pod %s of sandboxclaim %q (it has: %s)", o.opts.Container, pod.Name, o.claim, strings.Join(containerNames(pod), ", "))
	}
	stream := ctx
	if o.opts.Follow {
		var stop func()
		stream, stop = claims.WhilePodLives(ctx, clients.Core, pod, o.Drain)
		defer stop()
	}
	body, err := o.OpenLogs(stream, clients.Core, pod, &o.opts)
	if err != nil {
		return followEnded(ctx, stream, fmt.Errorf("logs of pod %s: %w", pod.Name, err))
	}
	defer body.Close()
	_, err = io.Copy(o.Out, body)
	return followEnded(ctx, stream, err)
}

// followEnded turns the end of a log stream into the verb's error: the
// interruption, none when the pod went, else err.
func followEnded(ctx, stream context.Context, err error) error {
	var gone *claims.PodGoneError
	switch {
	case ctx.Err() != nil:
		return context.Cause(ctx)
	case errors.As(context.Cause(stream), &gone):
		return nil
	}
	return err
}

func containerNames(pod *corev1.Pod) []string {
	var names []string
	for _, c := range pod.Spec.Containers {
		names = append(names, c.Name)
	}
	return names
}

func hasContainer(pod *corev1.Pod, name string) bool {
	for _, c := range pod.Spec.Containers {
		if c.Name == name {
			return true
		}
	}
	return false
}
