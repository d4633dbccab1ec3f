// Package podforward forwards local loopback ports to a pod's ports, in
// process and through the API server's pods/portforward, as kubectl
// port-forward does: WebSocket first, SPDY when the server or a proxy
// refuses the WebSocket upgrade.
package podforward

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/portforward"
	"k8s.io/client-go/transport/spdy"
	"k8s.io/klog/v2"
	streamhttp "k8s.io/streaming/pkg/httpstream"

	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/kube"
)

// Forward is an open port-forward.
type Forward struct {
	// Local are the local ports, in the order of the requested ones.
	Local   []int
	stop    context.CancelFunc
	done    chan error
	ns, pod string
}

// Close stops the forward and waits until its goroutines end.
func (f *Forward) Close() {
	if f.stop != nil {
		f.stop()
		if err := <-f.done; err != nil {
			klog.V(4).InfoS("port-forward ended", "err", err)
		}
		f.stop = nil
	}
}

// LostError is a forward whose connection to the pod ended (the pod went
// away, or the API server dropped it).
type LostError struct {
	Namespace, Pod string
	Err            error
}

func (e *LostError) Error() string {
	msg := fmt.Sprintf("lost the port-forward to pod %s/%s", e.Namespace, e.Pod)
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

func (e *LostError) Unwrap() error { return e.Err }

// Wait blocks until the forward ends by itself (a *LostError) or ctx ends
// (the forward is closed; ctx's cause is returned).
func (f *Forward) Wait(ctx context.Context) error {
	if f.stop == nil {
		return errors.New("the port-forward is closed")
	}
	select {
	case err := <-f.done:
		f.stop()
		f.stop = nil
		return &LostError{Namespace: f.ns, Pod: f.pod, Err: err}
	case <-ctx.Done():
		f.Close()
		return context.Cause(ctx)
	}
}

// Open forwards a free port on addresses (default 127.0.0.1) to each of the
// pod's ports, given as kubectl's [LOCAL:]REMOTE specs ("0:8080" picks a free
// local port). It returns once the forward listens.
func Open(ctx context.Context, cfg *rest.Config, core corev1client.CoreV1Interface, ns, pod string, addresses, ports []string) (*Forward, error) {
	if len(addresses) == 0 {
		addresses = []string{"127.0.0.1"}
	}
	target := core.RESTClient().Post().Resource("pods").Namespace(ns).Name(pod).SubResource("portforward").URL()
	rt, upgrader, err := spdy.RoundTripperFor(cfg)
	if err != nil {
		return nil, err
	}
	dialer := spdy.NewDialerForStreaming(upgrader, &http.Client{Transport: rt}, http.MethodPost, target)
	logger := kube.StreamLogger(klog.FromContext(ctx))
	tunnel, err := portforward.NewSPDYOverWebsocketDialerForStreamingWithLogger(logger, target, cfg)
	if err != nil {
		return nil, err
	}
	dialer = portforward.NewFallbackDialerForStreaming(tunnel, dialer, func(err error) bool {
		return streamhttp.IsUpgradeFailure(err) || streamhttp.IsHTTPSProxyError(err)
	})
	fctx, stop := context.WithCancel(klog.NewContext(context.WithoutCancel(ctx), logger))
	ready := make(chan struct{})
	var errOut strings.Builder
	fw, err := portforward.NewOnAddressesForStreamingWithContext(fctx, dialer, addresses, ports, ready, io.Discard, &errOut)
	if err != nil {
		stop()
		return nil, err
	}
	f := &Forward{stop: stop, done: make(chan error, 1), ns: ns, pod: pod}
	go func() { f.done <- fw.ForwardPorts() }()
	select {
	case <-ready:
	case err := <-f.done:
		stop()
		f.stop = nil
		if msg := strings.TrimSpace(errOut.String()); msg != "" {
			// Why no port could be listened on, rather than client-go's
			// summary.
			return nil, fmt.Errorf("port-forward to pod %s/%s: %s", ns, pod, strings.ReplaceAll(msg, "\n", "; "))
		}
		return nil, fmt.Errorf("port-forward to pod %s/%s: %w", ns, pod, err)
	case <-ctx.Done():
		// The upgrade takes no context, and a server can sit on it for good:
		// do not wait for it. With fctx done, the forward's goroutine ends
		// on its own once the upgrade returns.
		stop()
		return nil, ctx.Err()
	}
	// A port that could not be listened on is an error, even when others
	// could (client-go only reports it).
	if msg := strings.TrimSpace(errOut.String()); msg != "" {
		f.Close()
		return nil, fmt.Errorf("port-forward to pod %s/%s: %s", ns, pod, strings.ReplaceAll(msg, "\n", "; "))
	}
	got, err := fw.GetPorts()
	if err != nil || len(got) != len(ports) {
		f.Close()
		return nil, fmt.Errorf("port-forward to pod %s/%s: no local port: %w", ns, pod, err)
	}
	for _, p := range got {
		f.Local = append(f.Local, int(p.Local))
	}
	return f, nil
}

// Keep runs f until ctx ends, as Wait does, but a forward lost while the
// pod still runs (the same pod, by UID) is opened again on the same local
// addresses and ports: client-go ends a whole forward when one forwarded
// connection fails, as when nothing listens on the pod's port yet, and the
// kubelet or the API server restarting ends it too. onLost, if set, hears
// of each loss before the forward opens again. Keep returns ctx's cause, or
// the *LostError of a forward whose pod is gone or that cannot be opened
// again.
func Keep(ctx context.Context, cfg *rest.Config, core corev1client.CoreV1Interface, f *Forward, addresses []string, remote []int, onLost func(error)) error {
	pods := core.Pods(f.ns)
	first, err := pods.Get(ctx, f.pod, metav1.GetOptions{})
	if err != nil {
		return f.Wait(ctx) // the pod cannot be read: no way to tell when it goes
	}
	specs := make([]string, len(remote))
	for i, r := range remote {
		specs[i] = fmt.Sprintf("%d:%d", f.Local[i], r)
	}
	for {
		err := f.Wait(ctx)
		var lost *LostError
		if !errors.As(err, &lost) {
			return err
		}
		p, gerr := pods.Get(ctx, f.pod, metav1.GetOptions{})
		if gerr != nil || p.UID != first.UID || p.Status.Phase != corev1.PodRunning || p.DeletionTimestamp != nil {
			return err
		}
		if onLost != nil {
			onLost(err)
		}
		next, oerr := Open(ctx, cfg, core, f.ns, f.pod, addresses, specs)
		if oerr != nil {
			if ctx.Err() != nil {
				return context.Cause(ctx)
			}
			return &LostError{Namespace: f.ns, Pod: f.pod, Err: oerr}
		}
		*f = *next
	}
}
