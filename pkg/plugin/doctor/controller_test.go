package doctor

import (
	"context"
	"errors"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/utils/ptr"
)

// noDeployment ends the detail of a controller judged by its leftovers
// because there is no Deployment to read.
const noDeployment = "; no deployment agent-sandbox-system/agent-sandbox-controller to read"

const leasePath = "agent-sandbox-system/a3317529.agent-sandbox.x-k8s.io"

// controllerDeploy is the controller's Deployment of one replica, available
// of them, its container run with args.
func controllerDeploy(available int32, args ...string) *appsv1.Deployment {
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "agent-sandbox-controller", Namespace: "agent-sandbox-system"},
		Spec: appsv1.DeploymentSpec{Replicas: ptr.To[int32](1), Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
			Containers: []corev1.Container{{Name: "agent-sandbox-controller", Args: args}},
		}}},
		Status: appsv1.DeploymentStatus{Replicas: 1, AvailableReplicas: available},
	}
}

// withCommand is d with its container's command set, and its args cleared.
func withCommand(d *appsv1.Deployment, command ...string) *appsv1.Deployment {
	d.Spec.Template.Spec.Containers[0].Command, d.Spec.Template.Spec.Containers[0].Args = command, nil
	return d
}

// lease is the controller's lease in agent-sandbox-system, held by holder
// ("" for none), renewed ago before testNow, of duration seconds.
func lease(holder string, ago time.Duration, duration int32) *coordinationv1.Lease {
	return &coordinationv1.Lease{
		ObjectMeta: metav1.ObjectMeta{Name: "a3317529.agent-sandbox.x-k8s.io", Namespace: "agent-sandbox-system"},
		Spec: coordinationv1.LeaseSpec{
			HolderIdentity: ptr.To(holder), LeaseDurationSeconds: ptr.To(duration),
			AcquireTime: ptr.To(metav1.NewMicroTime(testNow.Add(-time.Hour))), RenewTime: ptr.To(metav1.NewMicroTime(testNow.Add(-ago))),
		},
	}
}

func inNamespace(l *coordinationv1.Lease, namespace string) *coordinationv1.Lease {
	l.Namespace = namespace
	return l
}

// getFails makes every get of resource fail with err.
func getFails(f *k8stesting.Fake, resource string, err error) {
	f.PrependReactor("get", resource, func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, err
	})
}

func forbidden(group, resource string) error {
	return apierrors.NewForbidden(schema.GroupResource{Group: group, Resource: resource}, "x", errors.New("no"))
}

func TestCheckControllerDeployment(t *testing.T) {
	const ok = "deployment agent-sandbox-system/agent-sandbox-controller: 1/1 available, --extensions"
	tests := []struct {
		name    string
		objs    []runtime.Object
		getErr  map[string]error // resource -> the error its get answers
		status  Status
		problem *Problem
		detail  string
	}{
		{name: "available, with --extensions", objs: []runtime.Object{controllerDeploy(1, "--leader-elect=true", "--extensions")},
			status: OK, detail: ok},
		{name: "--extensions=true in the command", objs: []runtime.Object{withCommand(controllerDeploy(1), "/manager", "-extensions=true")},
			status: OK, detail: ok},
		{name: "--extensions in a shell command", objs: []runtime.Object{withCommand(controllerDeploy(1), "sh", "-c", "exec /manager --extensions")},
			status: OK, detail: ok},
		{name: "none available", objs: []runtime.Object{controllerDeploy(0, "--extensions")},
			status: Fail, problem: ControllerDown, detail: "deployment agent-sandbox-system/agent-sandbox-controller: 0/1 available"},
		{name: "without --extensions", objs: []runtime.Object{controllerDeploy(1, "--leader-elect=true")},
			status: Fail, problem: NoExtensions,
			detail: "deployment agent-sandbox-system/agent-sandbox-controller: 1/1 available, without --extensions: no claim, template or pool is reconciled"},
		{name: "--extensions, then --extensions=false", objs: []runtime.Object{controllerDeploy(1, "--extensions", "--extensions=false")},
			status: Fail, problem: NoExtensions,
			detail: "deployment agent-sandbox-system/agent-sandbox-controller: 1/1 available, without --extensions: no claim, template or pool is reconciled"},
		{name: "a fresh lease", objs: []runtime.Object{controllerDeploy(1, "--extensions"), lease("ctrl-0_1f2e", 5*time.Second, 15)},
			status: OK, detail: ok + "; lease held by ctrl-0_1f2e, renewed 5s ago"},
		{name: "a stale lease", objs: []runtime.Object{controllerDeploy(1, "--extensions"), lease("ctrl-0_1f2e", 5*time.Minute, 15)},
			status: Fail, problem: ControllerStale,
			detail: ok + ", but lease " + leasePath + " held by ctrl-0_1f2e, last renewed 5m0s ago (lease duration 15s)"},
		{name: "a lease released lately", objs: []runtime.Object{controllerDeploy(1, "--extensions"), lease("", 10*time.Second, 1)},
			status: OK, detail: ok + "; lease has no holder, renewed 10s ago"},
		{name: "a lease released long ago", objs: []runtime.Object{controllerDeploy(1, "--extensions"), lease("", time.Hour, 1)},
			status: Fail, problem: ControllerStale,
			detail: ok + ", but lease " + leasePath + " has no holder, last renewed 1h0m0s ago (lease duration 1s)"},
		{name: "a stale lease, no leader election", objs: []runtime.Object{controllerDeploy(1, "--extensions", "--leader-elect=false"), lease("ctrl-0_1f2e", time.Hour, 15)},
			status: OK, detail: ok},
		{name: "a stale lease in --leader-election-namespace",
			objs:   []runtime.Object{controllerDeploy(1, "--extensions", "--leader-election-namespace", "elect"), inNamespace(lease("ctrl-0_1f2e", time.Hour, 15), "elect")},
			status: Fail, problem: ControllerStale,
			detail: ok + ", but lease elect/a3317529.agent-sandbox.x-k8s.io held by ctrl-0_1f2e, last renewed 1h0m0s ago (lease duration 15s)"},
		{name: "the lease forbidden", objs: []runtime.Object{controllerDeploy(1, "--extensions")},
			getErr: map[string]error{"leases": forbidden("coordination.k8s.io", "leases")},
			status: OK, detail: ok + "; may not get lease " + leasePath},
		{name: "the deployment forbidden", objs: []runtime.Object{controllerDeploy(0), pool("python", "python", 2, 2)},
			getErr: map[string]error{"deployments": forbidden("apps", "deployments")},
			status: OK, detail: "it reconciles warm pools (pool python: 2/2 ready); may not get deployment agent-sandbox-system/agent-sandbox-controller"},
		{name: "the deployment unreadable", objs: []runtime.Object{pool("python", "python", 2, 2)},
			getErr: map[string]error{"deployments": apierrors.NewInternalError(errors.New("etcd"))},
			status: OK, detail: "it reconciles warm pools (pool python: 2/2 ready); could not get deployment agent-sandbox-system/agent-sandbox-controller: Internal error occurred: etcd"},
		{name: "no deployment", objs: []runtime.Object{pool("python", "python", 2, 2)},
			status: OK, detail: "it reconciles warm pools (pool python: 2/2 ready)" + noDeployment},
		{name: "no deployment, a fresh lease", objs: []runtime.Object{pool("python", "python", 2, 2), lease("laptop", 3*time.Second, 15)},
			status: OK, detail: "it reconciles warm pools (pool python: 2/2 ready)" + noDeployment},
		{name: "no deployment, a stale lease", objs: []runtime.Object{pool("python", "python", 2, 2), lease("laptop", 2*time.Minute, 15)},
			status: Fail, problem: ControllerStale, detail: "lease " + leasePath + " held by laptop, last renewed 2m0s ago (lease duration 15s)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, tt.objs...)
			for resource, err := range tt.getErr {
				getFails(&f.core.Fake, resource, err)
			}
			r := checkController(context.Background(), f.clients, Options{Namespace: ns, Now: now})
			want := Result{Status: tt.status, Problem: tt.problem, Detail: tt.detail}
			if r != want {
				t.Errorf("got  %+v\nwant %+v", r, want)
			}
		})
	}
}

// TestCheckControllerWithoutAppsClient: clients made without the apps and
// coordination clients judge by leftovers alone, and say nothing of a
// Deployment.
func TestCheckControllerWithoutAppsClient(t *testing.T) {
	f := newFixture(t, pool("python", "python", 2, 2), controllerDeploy(0), lease("x", time.Hour, 15))
	clients := *f.clients
	clients.Apps, clients.Coordination = nil, nil
	r := checkController(context.Background(), &clients, Options{Namespace: ns, Now: now})
	if want := (Result{Status: OK, Detail: "it reconciles warm pools (pool python: 2/2 ready)"}); r != want {
		t.Errorf("got  %+v\nwant %+v", r, want)
	}
}

// TestCheckControllerThroughRun: through Run, a controller Deployment that
// is down fails the controller check, though its pools look reconciled.
func TestCheckControllerThroughRun(t *testing.T) {
	f := healthy(t, controllerDeploy(0, "--extensions"))
	if r := find(t, f.run(t, Options{}), CheckController); r.Status != Fail || r.Problem != ControllerDown {
		t.Errorf("controller %+v", r)
	}
}
