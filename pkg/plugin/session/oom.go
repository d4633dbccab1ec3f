package session

import (
	"context"
	"errors"
	"time"

	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"

	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/claims"
	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/sandbox"
)

// oomWait is how long a command's failure waits for the kubelet to report
// an OOM kill of the sandbox's container (it notices within a second or
// two), when a container has a memory limit.
var oomWait = 3 * time.Second

// oomAware is a runtime whose commands, when their connection fails, are
// explained by an OOM kill of the sandbox's container if the pod reports
// one since the command started (a *claims.OOMKilledError wrapping the
// connection's error).
type oomAware struct {
	sandbox.Runtime
	pods    corev1client.PodsGetter
	ns, pod string
}

func (r oomAware) Execute(ctx context.Context, cmd sandbox.Command) (*sandbox.Result, error) {
	start := time.Now()
	res, err := r.Runtime.Execute(ctx, cmd)
	return res, r.explain(ctx, start, err)
}

// explain turns err, the failure of a command started at start, into a
// *claims.OOMKilledError when the pod says so.
func (r oomAware) explain(ctx context.Context, start time.Time, err error) error {
	var cmdTimeout *sandbox.CommandTimeoutError
	if err == nil || ctx.Err() != nil || errors.As(err, &cmdTimeout) {
		return err
	}
	if oom := claims.WaitOOMKilled(ctx, r.pods, r.ns, r.pod, start, oomWait); oom != nil {
		oom.Err = err
		return oom
	}
	return err
}

// oomAwareStreamer is oomAware for a runtime that streams.
type oomAwareStreamer struct {
	oomAware
	st sandbox.Streamer
}

func (r oomAwareStreamer) Stream(ctx context.Context, cmd sandbox.Command, s sandbox.Streams) (int, error) {
	start := time.Now()
	code, err := r.st.Stream(ctx, cmd, s)
	return code, r.explain(ctx, start, err)
}

// oomAwareNames is oomAware for a runtime that refuses some upload names.
type oomAwareNames struct {
	oomAware
	un sandbox.UploadNames
}

func (r oomAwareNames) UploadsName(p string) bool { return r.un.UploadsName(p) }

// explainOOM wraps rt, the runtime of pod ns/pod, so that its commands'
// failures name an OOM kill of the pod's container; rt keeps the optional
// interfaces it has.
func explainOOM(rt sandbox.Runtime, pods corev1client.PodsGetter, ns, pod string) sandbox.Runtime {
	base := oomAware{Runtime: rt, pods: pods, ns: ns, pod: pod}
	if st, ok := rt.(sandbox.Streamer); ok {
		return oomAwareStreamer{base, st}
	}
	if un, ok := rt.(sandbox.UploadNames); ok {
		return oomAwareNames{base, un}
	}
	return base
}
