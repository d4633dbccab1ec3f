// Package describe renders one claim with its Sandbox, Pod and their events
// as kubectl-describe-style text.
package describe

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/duration"

	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/claims"
	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/tables"
)

// Print writes the details of a claim to w.
func Print(w io.Writer, v *claims.Details, now time.Time) error {
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	c := v.Claim
	line(tw, 0, "Name:", c.Name)
	line(tw, 0, "Namespace:", c.Namespace)
	line(tw, 0, "Labels:", kv(c.Labels))
	line(tw, 0, "Annotations:", kv(c.Annotations))
	line(tw, 0, "Created:", stamp(c.CreationTimestamp.Time, now))
	line(tw, 0, "Pool:", c.Spec.WarmPoolRef.Name)
	line(tw, 0, "Template:", tables.OrNone(v.Template))
	if lc := c.Spec.Lifecycle; lc != nil && lc.ShutdownTime != nil {
		line(tw, 0, "Expires:", fmt.Sprintf("%s (policy %s)", stamp(lc.ShutdownTime.Time, now), lc.ShutdownPolicy))
	} else {
		line(tw, 0, "Expires:", "<never>")
	}
	for _, e := range c.Spec.Env {
		line(tw, 0, "Env:", e.Name+"="+e.Value)
	}
	conditions(tw, 0, c.Status.Conditions, now)
	fmt.Fprintln(tw, "Sandbox:")
	if s := v.Sandbox; s != nil {
		line(tw, 1, "Name:", s.Name)
		line(tw, 1, "Launch:", tables.OrNone(s.Labels[claims.LaunchTypeLabel]))
		line(tw, 1, "Pod IPs:", tables.OrNone(strings.Join(s.Status.PodIPs, ",")))
		line(tw, 1, "Service:", tables.OrNone(s.Status.ServiceFQDN))
		conditions(tw, 1, s.Status.Conditions, now)
	} else {
		line(tw, 1, "<none>", tables.OrNone(claims.SandboxName(c)))
	}
	fmt.Fprintln(tw, "Pod:")
	if p := v.Pod; p != nil {
		line(tw, 1, "Name:", p.Name)
		line(tw, 1, "Phase:", string(p.Status.Phase))
		line(tw, 1, "Node:", tables.OrNone(p.Spec.NodeName))
		line(tw, 1, "IP:", tables.OrNone(p.Status.PodIP))
		podConditions(tw, p.Status.Conditions, now)
		containers(tw, p, now)
		_ = tw.Flush() // the events' columns are their own
	} else {
		line(tw, 1, "<none>", "")
	}
	events(tw, v.Events, now)
	return tw.Flush()
}

func line(w io.Writer, indent int, key, value string) {
	fmt.Fprintf(w, "%s%s\t%s\n", strings.Repeat("  ", indent), key, value)
}

func conditions(w io.Writer, indent int, conds []metav1.Condition, now time.Time) {
	pad := strings.Repeat("  ", indent)
	if len(conds) == 0 {
		fmt.Fprintf(w, "%sConditions:\t<none>\n", pad)
		return
	}
	fmt.Fprintf(w, "%sConditions:\n%s  Type\tStatus\tReason\tAge\tMessage\n", pad, pad)
	for _, c := range conds {
		fmt.Fprintf(w, "%s  %s\t%s\t%s\t%s\t%s\n", pad, c.Type, c.Status, tables.OrNone(c.Reason), ago(c.LastTransitionTime.Time, now), c.Message)
	}
}

// containers shows each container of p as kubectl describe does: its
// image, state, last state (an OOM kill or a crash shows there), restarts
// and memory limit.
func containers(w io.Writer, p *corev1.Pod, now time.Time) {
	if len(p.Spec.Containers) == 0 {
		return
	}
	statuses := map[string]corev1.ContainerStatus{}
	for _, s := range p.Status.ContainerStatuses {
		statuses[s.Name] = s
	}
	fmt.Fprintln(w, "  Containers:")
	for _, c := range p.Spec.Containers {
		st, seen := statuses[c.Name]
		fmt.Fprintf(w, "    %s:\n", c.Name)
		line(w, 3, "Image:", c.Image)
		if seen {
			line(w, 3, "State:", containerState(st.State, now))
			if st.LastTerminationState.Terminated != nil {
				line(w, 3, "Last State:", containerState(st.LastTerminationState, now))
			}
			line(w, 3, "Restarts:", fmt.Sprint(st.RestartCount))
		}
		limit := "<none>"
		if q, ok := c.Resources.Limits[corev1.ResourceMemory]; ok {
			limit = q.String()
		}
		line(w, 3, "Memory limit:", limit)
	}
}

// containerState is one line for a container's state.
func containerState(s corev1.ContainerState, now time.Time) string {
	switch {
	case s.Running != nil && s.Running.StartedAt.IsZero():
		return "Running"
	case s.Running != nil:
		return "Running (started " + ago(s.Running.StartedAt.Time, now) + " ago)"
	case s.Waiting != nil:
		msg := "Waiting: " + s.Waiting.Reason
		if s.Waiting.Message != "" {
			msg += ": " + strings.Join(strings.Fields(s.Waiting.Message), " ")
		}
		return msg
	case s.Terminated != nil:
		t := s.Terminated
		msg := fmt.Sprintf("Terminated: %s (exit code %d", tables.OrNone(t.Reason), t.ExitCode)
		if !t.FinishedAt.IsZero() {
			msg += ", " + ago(t.FinishedAt.Time, now) + " ago"
		}
		return msg + ")"
	}
	return "<unknown>"
}

func podConditions(w io.Writer, conds []corev1.PodCondition, now time.Time) {
	if len(conds) == 0 {
		fmt.Fprintln(w, "  Conditions:\t<none>")
		return
	}
	fmt.Fprintf(w, "  Conditions:\n    Type\tStatus\tReason\tAge\tMessage\n")
	for _, c := range conds {
		fmt.Fprintf(w, "    %s\t%s\t%s\t%s\t%s\n", c.Type, c.Status, tables.OrNone(c.Reason), ago(c.LastTransitionTime.Time, now), c.Message)
	}
}

func events(w io.Writer, evs []corev1.Event, now time.Time) {
	if len(evs) == 0 {
		fmt.Fprintln(w, "Events:\t<none>")
		return
	}
	sort.SliceStable(evs, func(i, j int) bool { return eventTime(evs[i]).Before(eventTime(evs[j])) })
	fmt.Fprintln(w, "Events:\n  Type\tReason\tAge\tObject\tFrom\tMessage")
	for _, e := range evs {
		from := e.Source.Component
		if from == "" {
			from = e.ReportingController
		}
		obj := strings.ToLower(e.InvolvedObject.Kind) + "/" + e.InvolvedObject.Name
		fmt.Fprintf(w, "  %s\t%s\t%s\t%s\t%s\t%s\n", e.Type, e.Reason, ago(eventTime(e), now), obj, tables.OrNone(from), strings.TrimSpace(e.Message))
	}
}

func eventTime(e corev1.Event) time.Time {
	switch {
	case !e.LastTimestamp.IsZero():
		return e.LastTimestamp.Time
	case !e.EventTime.IsZero():
		return e.EventTime.Time
	}
	return e.CreationTimestamp.Time
}

func kv(m map[string]string) string {
	if len(m) == 0 {
		return "<none>"
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteString("\n\t")
		}
		b.WriteString(k + "=" + m[k])
	}
	return b.String()
}

func stamp(t, now time.Time) string {
	if t.IsZero() {
		return "<unknown>"
	}
	return t.UTC().Format(time.RFC3339) + " (" + tables.Relative(t, now) + ")"
}

func ago(t, now time.Time) string {
	if t.IsZero() {
		return "<unknown>"
	}
	return duration.HumanDuration(now.Sub(t))
}
