package doctor

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/kube"
	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/router"
)

// gatewayChecks check, in order, what --gateway needs: its GatewayClass
// accepted by a controller, the Gateway Programmed with the listener the
// verbs would use, an HTTPRoute attached to it, and a request through it.
// Each check reads what the ones before it found.
type gatewayChecks struct {
	clients *kube.Clients
	ns      string // the sandboxes'
	ro      router.Options

	g  *gatewayv1.Gateway
	ep *router.Endpoint
}

// skipped is a later check's verdict when the Gateway could not be read.
func (gc *gatewayChecks) skipped(what string) Result {
	return Result{Status: Skip, Detail: "needs " + what}
}

// class reads the Gateway and its GatewayClass.
func (gc *gatewayChecks) class(ctx context.Context) Result {
	name := gc.ro.GatewayNamespace + "/" + gc.ro.Gateway
	g, err := gc.clients.Gateway.GatewayV1().Gateways(gc.ro.GatewayNamespace).Get(ctx, gc.ro.Gateway, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		return Result{Status: Fail, Detail: "gateway " + name + " not found", Problem: GatewayNotFound}
	case err != nil:
		return Result{Status: Fail, Detail: "reading gateway " + name + ": " + err.Error(), Problem: GatewayUnreadable}
	}
	gc.g = g
	className := string(g.Spec.GatewayClassName)
	class, err := gc.clients.Gateway.GatewayV1().GatewayClasses().Get(ctx, className, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		return Result{Status: Fail, Detail: fmt.Sprintf("gatewayclass %s of gateway %s not found", className, name), Problem: NoGatewayClass}
	case err != nil:
		return Result{Status: Warn, Detail: fmt.Sprintf("cannot read gatewayclass %s: %v", className, err), Problem: GatewayClassUnreadable}
	}
	what := fmt.Sprintf("gatewayclass %s (controller %s)", className, class.Spec.ControllerName)
	c := meta.FindStatusCondition(class.Status.Conditions, string(gatewayv1.GatewayClassConditionStatusAccepted))
	if c == nil || c.Status != metav1.ConditionTrue {
		return Result{Status: Fail, Detail: what + " is not Accepted" + reasonOf(c), Problem: GatewayClassNotAccepted}
	}
	return Result{Status: OK, Detail: what + ": Accepted"}
}

// reasonOf is " (Reason: message)" of a condition, or why there is none.
func reasonOf(c *metav1.Condition) string {
	if c == nil {
		return " (no controller has written its status)"
	}
	msg := strings.Join(strings.Fields(c.Message), " ")
	switch {
	case c.Reason == "" && msg == "":
		return " (" + string(c.Status) + ")"
	case msg == "":
		return " (" + c.Reason + ")"
	}
	return " (" + c.Reason + ": " + msg + ")"
}

// programmed judges the Gateway as the verbs do: Programmed, with a
// usable address and the listener of the scheme they would use.
func (gc *gatewayChecks) programmed() Result {
	if gc.g == nil {
		return gc.skipped("the gateway")
	}
	ep, err := router.GatewayEndpoint(gc.g, gc.ro)
	var ge *router.GatewayError
	if errors.As(err, &ge) {
		p := GatewayNotProgrammed
		if ge.NoListener {
			p = GatewayNoListener
		}
		return Result{Status: Fail, Detail: err.Error(), Problem: p}
	}
	gc.ep = ep
	detail := fmt.Sprintf("Programmed; listener %s at %s", ep.Listener, ep.URL)
	if ep.Hostname != "" {
		detail += ", hostname " + ep.Hostname
	}
	return Result{Status: OK, Detail: detail}
}

// route finds the HTTPRoutes that name the Gateway as a parent, and the
// Gateway's verdict on them.
func (gc *gatewayChecks) route(ctx context.Context) Result {
	if gc.ep == nil {
		return gc.skipped("a Programmed gateway")
	}
	gw := gc.g.Namespace + "/" + gc.g.Name
	attached := int32(-1)
	for _, l := range gc.g.Status.Listeners {
		if string(l.Name) == gc.ep.Listener {
			attached = l.AttachedRoutes
		}
	}
	routes, err := gc.clients.Gateway.GatewayV1().HTTPRoutes("").List(ctx, metav1.ListOptions{})
	partial := ""
	if apierrors.IsForbidden(err) {
		// Without the right to list everywhere, the Gateway's namespace.
		partial = fmt.Sprintf("cannot list httproutes in every namespace, and none in %s names gateway %s", gc.g.Namespace, gw)
		routes, err = gc.clients.Gateway.GatewayV1().HTTPRoutes(gc.g.Namespace).List(ctx, metav1.ListOptions{})
	}
	if err != nil {
		detail := "cannot list httproutes: " + err.Error()
		if attached >= 0 {
			detail += fmt.Sprintf("; the gateway counts %d route(s) attached to listener %s", attached, gc.ep.Listener)
		}
		if attached == 0 {
			return Result{Status: Fail, Detail: detail, Problem: NoHTTPRoute}
		}
		return Result{Status: Warn, Detail: detail, Problem: HTTPRouteUnreadable}
	}
	var first *Result
	for i := range routes.Items {
		r := judgeRoute(&routes.Items[i], gc.g, gc.ep.Listener)
		if r == nil {
			continue
		}
		if r.Status == OK {
			return *r
		}
		if first == nil {
			first = r
		}
	}
	if first != nil {
		return *first
	}
	if partial != "" && attached != 0 {
		if attached > 0 {
			partial += fmt.Sprintf("; the gateway counts %d route(s) attached to listener %s", attached, gc.ep.Listener)
		}
		return Result{Status: Warn, Detail: partial, Problem: HTTPRouteUnreadable}
	}
	detail := fmt.Sprintf("no httproute names gateway %s as its parent", gw)
	if attached >= 0 {
		detail += fmt.Sprintf(" (listener %s: %d attached route(s))", gc.ep.Listener, attached)
	}
	return Result{Status: Fail, Detail: detail, Problem: NoHTTPRoute}
}

// judgeRoute is the verdict on route for listener of gateway g, nil when
// the route does not name them as a parent.
func judgeRoute(route *gatewayv1.HTTPRoute, g *gatewayv1.Gateway, listener string) *Result {
	names := func(ref gatewayv1.ParentReference) bool {
		ns := route.Namespace
		if ref.Namespace != nil {
			ns = string(*ref.Namespace)
		}
		return (ref.Group == nil || *ref.Group == gatewayv1.GroupName) && (ref.Kind == nil || *ref.Kind == "Gateway") &&
			string(ref.Name) == g.Name && ns == g.Namespace && (ref.SectionName == nil || string(*ref.SectionName) == listener)
	}
	if !slices.ContainsFunc(route.Spec.ParentRefs, names) {
		return nil
	}
	what := "httproute " + route.Namespace + "/" + route.Name
	var status *gatewayv1.RouteParentStatus
	for i, p := range route.Status.Parents {
		if names(p.ParentRef) {
			status = &route.Status.Parents[i]
			break
		}
	}
	if status == nil {
		return &Result{Status: Fail, Detail: what + " is not Accepted (the gateway's controller has not written its status)", Problem: HTTPRouteNotAccepted}
	}
	accepted := meta.FindStatusCondition(status.Conditions, string(gatewayv1.RouteConditionAccepted))
	if accepted == nil || accepted.Status != metav1.ConditionTrue {
		return &Result{Status: Fail, Detail: what + " is not Accepted by gateway " + g.Namespace + "/" + g.Name + reasonOf(accepted), Problem: HTTPRouteNotAccepted}
	}
	resolved := meta.FindStatusCondition(status.Conditions, string(gatewayv1.RouteConditionResolvedRefs))
	if resolved == nil || resolved.Status != metav1.ConditionTrue {
		return &Result{Status: Fail, Detail: what + " is Accepted but its backends are not resolved" + reasonOf(resolved), Problem: HTTPRouteUnresolved}
	}
	return &Result{Status: OK, Detail: what + ": Accepted, backends resolved (" + backends(route) + ")"}
}

// backends lists a route's backends, as NAME:PORT.
func backends(route *gatewayv1.HTTPRoute) string {
	var out []string
	for _, rule := range route.Spec.Rules {
		for _, b := range rule.BackendRefs {
			s := string(b.Name)
			if b.Namespace != nil {
				s = string(*b.Namespace) + "/" + s
			}
			if b.Port != nil {
				s += fmt.Sprintf(":%d", *b.Port)
			}
			out = append(out, s)
		}
	}
	if len(out) == 0 {
		return "no backends"
	}
	return strings.Join(out, ", ")
}

// request sends requests through the Gateway (see checkRouter).
func (gc *gatewayChecks) request(ctx context.Context) Result {
	if gc.ep == nil {
		return gc.skipped("a Programmed gateway")
	}
	return checkRouter(ctx, gc.clients, gc.ns, gc.ro, UnreachableGateway, UnhealthyGateway)
}
