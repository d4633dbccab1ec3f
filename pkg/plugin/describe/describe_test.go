package describe

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	sandboxv1beta1 "sigs.k8s.io/agent-sandbox/api/v1beta1"
	extv1beta1 "sigs.k8s.io/agent-sandbox/extensions/api/v1beta1"

	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/claims"
)

var now = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

func before(d time.Duration) metav1.Time { return metav1.NewTime(now.Add(-d)) }

// bareClaim is a claim as first created: no status, no lifecycle.
func bareClaim() *extv1beta1.SandboxClaim {
	return &extv1beta1.SandboxClaim{
		ObjectMeta: metav1.ObjectMeta{Name: "c1", Namespace: "default"},
		Spec:       extv1beta1.SandboxClaimSpec{WarmPoolRef: extv1beta1.SandboxWarmPoolRef{Name: "python"}},
	}
}

// boundClaim is a Ready claim with labels, annotations, env and a TTL.
func boundClaim(expires time.Duration) *extv1beta1.SandboxClaim {
	c := bareClaim()
	c.CreationTimestamp = before(5 * time.Minute)
	c.Labels = map[string]string{"team": "a", claims.CreatedByLabel: claims.CreatedByValue}
	c.Annotations = map[string]string{claims.FirstRequestedAtAnnotation: "2026-11-25T11:55:00Z"}
	at := metav1.NewTime(now.Add(expires))
	c.Spec.Lifecycle = &extv1beta1.Lifecycle{ShutdownTime: &at, ShutdownPolicy: extv1beta1.ShutdownPolicyDelete}
	c.Spec.Env = []extv1beta1.EnvVar{{Name: "MODE", Value: "fast"}, {Name: "DEBUG", Value: "1"}}
	c.Status.Conditions = []metav1.Condition{{Type: "Ready", Status: "True", Reason: "DependenciesReady", Message: "Pod is Ready", LastTransitionTime: before(4 * time.Minute)}}
	c.Status.SandboxStatus.Name = "python-abcde"
	return c
}

func sandbox() *sandboxv1beta1.Sandbox {
	s := &sandboxv1beta1.Sandbox{ObjectMeta: metav1.ObjectMeta{Name: "python-abcde", Namespace: "default",
		Labels: map[string]string{claims.LaunchTypeLabel: "warm"}}}
	s.Status.PodIPs = []string{"10.0.0.7", "fd00::7"}
	s.Status.ServiceFQDN = "python-abcde.default.svc.cluster.local"
	s.Status.Conditions = []metav1.Condition{{Type: "Ready", Status: "True", Reason: "DependenciesReady", Message: "Pod is Ready", LastTransitionTime: before(6 * time.Minute)}}
	return s
}

func pod() *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "python-pool-x7k2p", Namespace: "default"},
		Spec:       corev1.PodSpec{NodeName: "node-1"},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, PodIP: "10.0.0.7", Conditions: []corev1.PodCondition{
			{Type: corev1.PodScheduled, Status: "True", LastTransitionTime: before(10 * time.Minute)},
			{Type: corev1.PodReady, Status: "True", LastTransitionTime: before(9 * time.Minute)},
		}},
	}
}

// someEvents are given out of order; each dates itself differently.
func someEvents() []corev1.Event {
	return []corev1.Event{
		{Type: "Normal", Reason: "Adopted", Message: "adopted warm pod python-pool-x7k2p\n",
			InvolvedObject: corev1.ObjectReference{Kind: "Sandbox", Name: "python-abcde"},
			LastTimestamp:  before(4 * time.Minute), Source: corev1.EventSource{Component: "sandbox-controller"}},
		{Type: "Normal", Reason: "Scheduled", Message: "Successfully assigned default/python-pool-x7k2p to node-1",
			InvolvedObject: corev1.ObjectReference{Kind: "Pod", Name: "python-pool-x7k2p"},
			EventTime:      metav1.NewMicroTime(now.Add(-10 * time.Minute)), ReportingController: "default-scheduler"},
		{Type: "Warning", Reason: "Unbound", Message: "no sandbox yet",
			InvolvedObject: corev1.ObjectReference{Kind: "SandboxClaim", Name: "c1"},
			ObjectMeta:     metav1.ObjectMeta{CreationTimestamp: before(5 * time.Minute)}},
	}
}

// lines joins the lines of an expected output; trailing spaces are the
// tabwriter's padding of a last, empty cell.
func lines(ls ...string) string { return strings.Join(ls, "\n") + "\n" }

// oomKilledPod is a pod whose container was OOM-killed a minute ago and
// runs again, and whose second container waits to start.
func oomKilledPod() *corev1.Pod {
	p := pod()
	p.Spec.Containers = []corev1.Container{
		{Name: "python-runtime", Image: "local.test/python:v1", Resources: corev1.ResourceRequirements{Limits: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("160Mi")}}},
		{Name: "sidecar", Image: "local.test/sidecar:v1"},
	}
	p.Status.ContainerStatuses = []corev1.ContainerStatus{
		{Name: "python-runtime", RestartCount: 1,
			State:                corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: before(50 * time.Second)}},
			LastTerminationState: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{Reason: "OOMKilled", ExitCode: 137, FinishedAt: before(time.Minute)}}},
		{Name: "sidecar", State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ErrImagePull", Message: "failed to pull\nimage"}}},
	}
	return p
}

// pendingDetails: a cold sandbox whose pod is not scheduled yet, and an
// event that names neither its time nor its source.
func pendingDetails() *claims.Details {
	c := bareClaim()
	c.Status.Conditions = []metav1.Condition{{Type: "Ready", Status: "False", Reason: "DependenciesNotReady", Message: "Pod exists with phase: Pending"}}
	c.Status.SandboxStatus.Name = "c1"
	s := &sandboxv1beta1.Sandbox{ObjectMeta: metav1.ObjectMeta{Name: "c1", Namespace: "default"}}
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "c1", Namespace: "default"}, Status: corev1.PodStatus{Phase: corev1.PodPending}}
	evs := []corev1.Event{{Type: "Normal", Reason: "Created", Message: "created pod c1", InvolvedObject: corev1.ObjectReference{Kind: "Sandbox", Name: "c1"}}}
	return &claims.Details{Claim: c, Sandbox: s, Pod: p, Events: evs}
}

func TestPrint(t *testing.T) {
	tests := []struct {
		name    string
		details *claims.Details
		want    string
	}{
		{"claim only, never expiring", &claims.Details{Claim: bareClaim()}, lines(
			"Name:         c1",
			"Namespace:    default",
			"Labels:       <none>",
			"Annotations:  <none>",
			"Created:      <unknown>",
			"Pool:         python",
			"Template:     <none>",
			"Expires:      <never>",
			"Conditions:   <none>",
			"Sandbox:",
			"  <none>  <none>",
			"Pod:",
			"  <none>  ",
			"Events:   <none>",
		)},
		{"claim with sandbox, pod, conditions, env and events, expiring",
			&claims.Details{Claim: boundClaim(time.Hour), Template: "python-3.12", Sandbox: sandbox(), Pod: pod(), Events: someEvents()}, lines(
				"Name:         c1",
				"Namespace:    default",
				"Labels:       agents.x-k8s.io/created-by=kubectl-sandbox",
				"              team=a",
				"Annotations:  agents.x-k8s.io/client-first-requested-at=2026-11-25T11:55:00Z",
				"Created:      2026-11-25T11:55:00Z (5m ago)",
				"Pool:         python",
				"Template:     python-3.12",
				"Expires:      2026-11-25T13:00:00Z (in 60m) (policy Delete)",
				"Env:          MODE=fast",
				"Env:          DEBUG=1",
				"Conditions:",
				"  Type   Status  Reason             Age  Message",
				"  Ready  True    DependenciesReady  4m   Pod is Ready",
				"Sandbox:",
				"  Name:     python-abcde",
				"  Launch:   warm",
				"  Pod IPs:  10.0.0.7,fd00::7",
				"  Service:  python-abcde.default.svc.cluster.local",
				"  Conditions:",
				"    Type   Status  Reason             Age  Message",
				"    Ready  True    DependenciesReady  6m   Pod is Ready",
				"Pod:",
				"  Name:   python-pool-x7k2p",
				"  Phase:  Running",
				"  Node:   node-1",
				"  IP:     10.0.0.7",
				"  Conditions:",
				"    Type          Status  Reason  Age  Message",
				"    PodScheduled  True    <none>  10m  ",
				"    Ready         True    <none>  9m   ",
				"Events:",
				"  Type     Reason     Age  Object                 From                Message",
				"  Normal   Scheduled  10m  pod/python-pool-x7k2p  default-scheduler   Successfully assigned default/python-pool-x7k2p to node-1",
				"  Warning  Unbound    5m   sandboxclaim/c1        <none>              no sandbox yet",
				"  Normal   Adopted    4m   sandbox/python-abcde   sandbox-controller  adopted warm pod python-pool-x7k2p",
			)},
		{"a container OOM-killed, another that cannot pull its image", &claims.Details{Claim: bareClaim(), Pod: oomKilledPod()}, lines(
			"Name:         c1",
			"Namespace:    default",
			"Labels:       <none>",
			"Annotations:  <none>",
			"Created:      <unknown>",
			"Pool:         python",
			"Template:     <none>",
			"Expires:      <never>",
			"Conditions:   <none>",
			"Sandbox:",
			"  <none>  <none>",
			"Pod:",
			"  Name:   python-pool-x7k2p",
			"  Phase:  Running",
			"  Node:   node-1",
			"  IP:     10.0.0.7",
			"  Conditions:",
			"    Type          Status  Reason  Age  Message",
			"    PodScheduled  True    <none>  10m  ",
			"    Ready         True    <none>  9m   ",
			"  Containers:",
			"    python-runtime:",
			"      Image:         local.test/python:v1",
			"      State:         Running (started 50s ago)",
			"      Last State:    Terminated: OOMKilled (exit code 137, 60s ago)",
			"      Restarts:      1",
			"      Memory limit:  160Mi",
			"    sidecar:",
			"      Image:         local.test/sidecar:v1",
			"      State:         Waiting: ErrImagePull: failed to pull image",
			"      Restarts:      0",
			"      Memory limit:  <none>",
			"Events:  <none>",
		)},
		{"expired, the sandbox gone", &claims.Details{Claim: boundClaim(-2 * time.Minute), Template: "python-3.12"}, lines(
			"Name:         c1",
			"Namespace:    default",
			"Labels:       agents.x-k8s.io/created-by=kubectl-sandbox",
			"              team=a",
			"Annotations:  agents.x-k8s.io/client-first-requested-at=2026-11-25T11:55:00Z",
			"Created:      2026-11-25T11:55:00Z (5m ago)",
			"Pool:         python",
			"Template:     python-3.12",
			"Expires:      2026-11-25T11:58:00Z (2m ago) (policy Delete)",
			"Env:          MODE=fast",
			"Env:          DEBUG=1",
			"Conditions:",
			"  Type   Status  Reason             Age  Message",
			"  Ready  True    DependenciesReady  4m   Pod is Ready",
			"Sandbox:",
			"  <none>  python-abcde",
			"Pod:",
			"  <none>  ",
			"Events:   <none>",
		)},
		{"a cold sandbox, its pod pending", pendingDetails(), lines(
			"Name:         c1",
			"Namespace:    default",
			"Labels:       <none>",
			"Annotations:  <none>",
			"Created:      <unknown>",
			"Pool:         python",
			"Template:     <none>",
			"Expires:      <never>",
			"Conditions:",
			"  Type   Status  Reason                Age        Message",
			"  Ready  False   DependenciesNotReady  <unknown>  Pod exists with phase: Pending",
			"Sandbox:",
			"  Name:        c1",
			"  Launch:      <none>",
			"  Pod IPs:     <none>",
			"  Service:     <none>",
			"  Conditions:  <none>",
			"Pod:",
			"  Name:        c1",
			"  Phase:       Pending",
			"  Node:        <none>",
			"  IP:          <none>",
			"  Conditions:  <none>",
			"Events:",
			"  Type    Reason   Age        Object      From    Message",
			"  Normal  Created  <unknown>  sandbox/c1  <none>  created pod c1",
		)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			if err := Print(&out, tt.details, now); err != nil {
				t.Fatal(err)
			}
			if out.String() != tt.want {
				t.Errorf("got\n%s\nwant\n%s", out.String(), tt.want)
			}
		})
	}
}

// failingWriter fails every write.
type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestPrintReportsWriteErrors(t *testing.T) {
	if err := Print(failingWriter{}, &claims.Details{Claim: bareClaim()}, now); err == nil || err.Error() != "disk full" {
		t.Errorf("error %v, want disk full", err)
	}
}
