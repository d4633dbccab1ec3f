package main

import (
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

// Why a container is not running, as a kubelet words it in
// containerStatuses[].state.waiting.reason.
const (
	// The runtime ran and exited; it waits for its back-off to pass.
	reasonCrashLoopBackOff = "CrashLoopBackOff"
	// The runtime could not be started at all.
	reasonRunContainerError = "RunContainerError"
	// The runtime runs but its readiness probe has not passed yet.
	reasonContainersNotReady = "ContainersNotReady"
)

// backoffMessage words a waiting state the way a kubelet does, followed by
// the cause: "back-off 2s restarting failed container=C pod=NS/NAME: CAUSE".
func backoffMessage(d time.Duration, container, pod, cause string) string {
	return fmt.Sprintf("back-off %s restarting failed container=%s pod=%s: %s", d, container, pod, cause)
}

// containerStatus returns the status entry of container c, adding one if
// the pod has none yet.
func containerStatus(st *corev1.PodStatus, c corev1.Container) *corev1.ContainerStatus {
	for i := range st.ContainerStatuses {
		if st.ContainerStatuses[i].Name == c.Name {
			return &st.ContainerStatuses[i]
		}
	}
	st.ContainerStatuses = append(st.ContainerStatuses, corev1.ContainerStatus{Name: c.Name, Image: c.Image})
	return &st.ContainerStatuses[len(st.ContainerStatuses)-1]
}

// setWaiting reports container c as not running and waiting to be started
// again, for reason (with message); last, when not nil, is how its previous
// run ended. The pod's Ready and ContainersReady conditions turn False with
// the same reason and message, so that they say why.
func setWaiting(st *corev1.PodStatus, c corev1.Container, reason, message string, last *corev1.ContainerStateTerminated, now metav1.Time) {
	cs := containerStatus(st, c)
	cs.State = corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: reason, Message: message}}
	if last != nil {
		cs.LastTerminationState = corev1.ContainerState{Terminated: last}
	}
	cs.Ready = false
	cs.Started = ptr.To(false)
	setPodNotReady(st, reason, message, now)
}

// setRunning reports container c as running again since startedAt, after
// restarts restarts, and not ready until its probe passes.
func setRunning(st *corev1.PodStatus, c corev1.Container, startedAt metav1.Time, restarts int32, now metav1.Time) {
	cs := containerStatus(st, c)
	cs.State = corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: startedAt}}
	cs.RestartCount = restarts
	cs.Ready = false
	cs.Started = ptr.To(true)
	setPodNotReady(st, reasonContainersNotReady, fmt.Sprintf("containers with unready status: [%s]", c.Name), now)
}

// setPodNotReady sets the Ready and ContainersReady conditions False with
// reason and message; their lastTransitionTime moves only when they were
// not False already.
func setPodNotReady(st *corev1.PodStatus, reason, message string, now metav1.Time) {
	for _, t := range []corev1.PodConditionType{corev1.PodReady, corev1.ContainersReady} {
		found := false
		for i := range st.Conditions {
			if c := &st.Conditions[i]; c.Type == t {
				found = true
				if c.Status != corev1.ConditionFalse {
					c.Status, c.LastTransitionTime = corev1.ConditionFalse, now
				}
				c.Reason, c.Message = reason, message
			}
		}
		if !found {
			st.Conditions = append(st.Conditions, corev1.PodCondition{Type: t, Status: corev1.ConditionFalse,
				Reason: reason, Message: message, LastTransitionTime: now})
		}
	}
}
