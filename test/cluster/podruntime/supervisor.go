package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	"k8s.io/klog/v2"
)

// sandboxPodLabel marks pods owned by a Sandbox (see the upstream spec §1.3).
const sandboxPodLabel = "agents.x-k8s.io/sandbox-name-hash"

type config struct {
	node, runtimeDir, podsDir, resolvConf, python string
	// sandboxd is the sandboxd binary for pods of that kind; self is this
	// binary, the command of their PortForwards (`podruntime relay`);
	// logsDir, when set, gets one log file per pod.
	sandboxd, self, logsDir string
}

// supervisor tracks one runtime per sandbox pod UID.
type supervisor struct {
	client kubernetes.Interface
	// dynamic writes kwok PortForward objects; nil leaves them out.
	dynamic dynamic.Interface
	cfg     config

	// What a runtime does, replaced in tests: the process it runs, its
	// readiness probe, the clock, and the wait between restarts (which
	// returns false when ctx ended first).
	command func(*runtime) *exec.Cmd
	probe   func(context.Context, *runtime) bool
	now     func() time.Time
	sleep   func(ctx context.Context, d time.Duration) bool

	mu       sync.Mutex
	runtimes map[types.UID]*runtime
	wg       sync.WaitGroup
}

func newSupervisor(client kubernetes.Interface, cfg config) *supervisor {
	return &supervisor{
		client: client, cfg: cfg, runtimes: map[types.UID]*runtime{},
		command: (*runtime).command, now: time.Now, sleep: sleep,
		probe: func(ctx context.Context, r *runtime) bool { return r.probe(ctx) },
	}
}

// sleep waits d, or until ctx ends (then it returns false).
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

func (s *supervisor) run(ctx context.Context) error {
	if err := os.MkdirAll(s.cfg.podsDir, 0o755); err != nil {
		return err
	}
	factory := informers.NewSharedInformerFactoryWithOptions(s.client, 0,
		informers.WithTweakListOptions(func(o *metav1.ListOptions) {
			o.FieldSelector = fields.OneTermEqualSelector("spec.nodeName", s.cfg.node).String()
		}))
	inf := factory.Core().V1().Pods().Informer()
	if _, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { s.sync(ctx, obj) },
		UpdateFunc: func(_, obj any) { s.sync(ctx, obj) },
		DeleteFunc: func(obj any) {
			if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = tomb.Obj
			}
			if pod, ok := obj.(*corev1.Pod); ok {
				s.stop(pod.UID)
			}
		},
	}); err != nil {
		return err
	}
	factory.Start(ctx.Done())
	klog.Infof("supervising sandbox pods on node %s", s.cfg.node)
	<-ctx.Done()
	factory.Shutdown()
	s.mu.Lock()
	for uid := range s.runtimes {
		s.stopLocked(uid)
	}
	s.mu.Unlock()
	s.wg.Wait()
	return nil
}

// sync starts a runtime for a live sandbox pod that has an IP, and stops it
// once the pod is being deleted.
func (s *supervisor) sync(ctx context.Context, obj any) {
	pod, ok := obj.(*corev1.Pod)
	if !ok || pod.Labels[sandboxPodLabel] == "" || len(pod.Spec.Containers) == 0 {
		return
	}
	if pod.DeletionTimestamp != nil {
		s.stop(pod.UID)
		return
	}
	if pod.Status.PodIP == "" {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, running := s.runtimes[pod.UID]; running {
		return
	}
	rctx, cancel := context.WithCancel(ctx)
	r := &runtime{
		sup: s, pod: pod.DeepCopy(), cancel: cancel, done: make(chan struct{}),
		dir: fmt.Sprintf("%s/%s_%s_%s", s.cfg.podsDir, pod.Namespace, pod.Name, pod.UID),
	}
	r.index, r.sandboxd = sandboxdContainer(pod)
	s.runtimes[pod.UID] = r
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		r.run(rctx)
	}()
}

func (s *supervisor) stop(uid types.UID) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stopLocked(uid)
}

// stopLocked cancels a runtime and waits until its process is gone, so that
// a new pod given the same IP can bind it.
func (s *supervisor) stopLocked(uid types.UID) {
	r, ok := s.runtimes[uid]
	if !ok {
		return
	}
	delete(s.runtimes, uid)
	r.cancel()
	select {
	case <-r.done:
	case <-time.After(10 * time.Second):
		klog.Warningf("runtime of pod %s/%s did not stop in 10s", r.pod.Namespace, r.pod.Name)
	}
}
