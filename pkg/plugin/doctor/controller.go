package doctor

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/kube"
)

// The controller as upstream's release manifests install it
// (k8s/extensions.controller.yaml), and its leader-election lease: the
// LeaderElectionID in cmd/agent-sandbox-controller/manageroptions.go, the
// same from v0.1 through v0.5.6.
const (
	controllerNamespace  = "agent-sandbox-system"
	controllerDeployment = "agent-sandbox-controller"
	controllerLease      = "a3317529.agent-sandbox.x-k8s.io"
)

// Lease timing: controller-runtime's default lease duration, and the least
// age at which a lease counts as stale (a released lease lasts 1s, and a
// new leader takes it within a few retries).
const (
	defaultLeaseDuration = 15 * time.Second
	minStaleAge          = 30 * time.Second
)

// getControllerDeployment reads the controller's Deployment. Without it,
// why says what to tell the user instead ("" when there is no apps client
// to ask with).
func getControllerDeployment(ctx context.Context, clients *kube.Clients) (dep *appsv1.Deployment, why string) {
	if clients.Apps == nil {
		return nil, ""
	}
	name := controllerNamespace + "/" + controllerDeployment
	dep, err := clients.Apps.Deployments(controllerNamespace).Get(ctx, controllerDeployment, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		return nil, "no deployment " + name + " to read"
	case apierrors.IsForbidden(err):
		return nil, "may not get deployment " + name
	case err != nil:
		return nil, "could not get deployment " + name + ": " + err.Error()
	}
	return dep, ""
}

// controllerFlags are the controller's flags that doctor cares about.
type controllerFlags struct {
	extensions     bool
	leaderElect    bool
	leaseNamespace string
}

// readFlags reads the flags from the command and args of every container,
// upstream's defaults where a flag is not given and, as with Go's flag
// package, the last one given where it is given twice.
func readFlags(spec corev1.PodSpec) controllerFlags {
	f := controllerFlags{leaderElect: true, leaseNamespace: controllerNamespace}
	for _, c := range spec.Containers {
		var argv []string
		for _, a := range append(append([]string{}, c.Command...), c.Args...) {
			argv = append(argv, strings.Fields(a)...) // sh -c "manager --extensions"
		}
		for i, a := range argv {
			if !strings.HasPrefix(a, "-") {
				continue
			}
			name, value, hasValue := strings.Cut(strings.TrimPrefix(strings.TrimPrefix(a, "-"), "-"), "=")
			switch name {
			case "extensions":
				f.extensions = boolFlag(value, hasValue)
			case "leader-elect":
				f.leaderElect = boolFlag(value, hasValue)
			case "leader-election-namespace":
				if !hasValue && i+1 < len(argv) {
					value = argv[i+1]
				}
				if value != "" {
					f.leaseNamespace = value
				}
			}
		}
	}
	return f
}

// boolFlag is a boolean flag's value: true when given bare.
func boolFlag(value string, hasValue bool) bool {
	if !hasValue {
		return true
	}
	b, err := strconv.ParseBool(value)
	return err == nil && b
}

// leaseState is what the controller's leader-election lease says.
type leaseState struct {
	// stale: its holder has not renewed it for twice its duration.
	stale bool
	// note describes it, or why it could not be read; "" when there is
	// none to read.
	note string
}

// readLease reads the controller's lease in namespace ns.
func readLease(ctx context.Context, clients *kube.Clients, ns string, now time.Time) leaseState {
	if clients.Coordination == nil {
		return leaseState{}
	}
	name := ns + "/" + controllerLease
	lease, err := clients.Coordination.Leases(ns).Get(ctx, controllerLease, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		return leaseState{}
	case apierrors.IsForbidden(err):
		return leaseState{note: "may not get lease " + name}
	case err != nil:
		return leaseState{note: "could not get lease " + name + ": " + err.Error()}
	}
	holder := "has no holder"
	if h := lease.Spec.HolderIdentity; h != nil && *h != "" {
		holder = "held by " + *h
	}
	renewed := lease.Spec.RenewTime
	if renewed == nil {
		renewed = lease.Spec.AcquireTime
	}
	if renewed == nil {
		return leaseState{stale: true, note: fmt.Sprintf("lease %s %s, never renewed", name, holder)}
	}
	duration := defaultLeaseDuration
	if d := lease.Spec.LeaseDurationSeconds; d != nil && *d > 0 {
		duration = time.Duration(*d) * time.Second
	}
	age := max(now.Sub(renewed.Time), 0).Truncate(time.Second)
	if age > max(2*duration, minStaleAge) {
		return leaseState{stale: true, note: fmt.Sprintf("lease %s %s, last renewed %s ago (lease duration %s)", name, holder, age, duration)}
	}
	return leaseState{note: fmt.Sprintf("lease %s, renewed %s ago", holder, age)}
}
