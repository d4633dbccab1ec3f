package router

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/watch"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/kube"
)

// GatewayError reports a Gateway that cannot lead to the router.
type GatewayError struct {
	Namespace, Name string
	// NotFound: the Gateway does not exist (or was deleted).
	NotFound bool
	// Problem is what stops it, after "gateway NS/NAME" ("is not
	// Programmed"), Reason why, if known; After is how long it was waited
	// for (0: waiting would not help).
	Problem, Reason string
	After           time.Duration
	// NoListener: it has no listener of the scheme needed.
	NoListener bool
}

func (e *GatewayError) Error() string {
	if e.NotFound {
		return fmt.Sprintf("gateway %q not found in namespace %q", e.Name, e.Namespace)
	}
	msg := fmt.Sprintf("gateway %s/%s %s", e.Namespace, e.Name, e.Problem)
	if e.After > 0 {
		msg += fmt.Sprintf(" after %s", e.After)
	}
	if e.Reason != "" {
		msg += " (" + e.Reason + ")"
	}
	return msg
}

// Endpoint is where a Gateway takes the router's requests.
type Endpoint struct {
	URL      *url.URL
	Listener string
	// Hostname is the listener's, when it names one host: the requests'
	// Host, and the name an https router's certificate is verified for.
	Hostname string
}

// GatewayEndpoint is the Gateway's endpoint for the router, as Open picks
// it: a listener of the scheme (Options.GatewayScheme), and the first
// usable status address, once the Gateway is Programmed. Otherwise it is
// a *GatewayError, without After, saying what is missing.
func GatewayEndpoint(g *gatewayv1.Gateway, o Options) (*Endpoint, error) {
	fail := func(problem, reason string) (*Endpoint, error) {
		return nil, &GatewayError{Namespace: g.Namespace, Name: g.Name, Problem: problem, Reason: reason}
	}
	l, err := pickListener(g, o)
	if err != nil {
		return nil, err
	}
	if problem, reason := programmed(g, l.Name); problem != "" {
		return fail(problem, reason)
	}
	host := ""
	for _, a := range g.Status.Addresses {
		if usableAddress(a.Value) {
			host = a.Value
			break
		}
	}
	if host == "" {
		return fail("has no usable address", "status.addresses has no IP address or hostname yet")
	}
	ep := &Endpoint{
		URL:      &url.URL{Scheme: strings.ToLower(string(l.Protocol)), Host: net.JoinHostPort(host, strconv.Itoa(int(l.Port)))},
		Listener: string(l.Name),
	}
	if l.Hostname != nil && !strings.HasPrefix(string(*l.Hostname), "*") {
		ep.Hostname = string(*l.Hostname)
	}
	return ep, nil
}

// pickListener is the listener of the scheme asked for, or of the scheme
// the options can use (see Options.GatewayScheme).
func pickListener(g *gatewayv1.Gateway, o Options) (*gatewayv1.Listener, error) {
	first := map[gatewayv1.ProtocolType]*gatewayv1.Listener{}
	for i, l := range g.Spec.Listeners {
		if (l.Protocol == gatewayv1.HTTPProtocolType || l.Protocol == gatewayv1.HTTPSProtocolType) && first[l.Protocol] == nil {
			first[l.Protocol] = &g.Spec.Listeners[i]
		}
	}
	plain, secure := first[gatewayv1.HTTPProtocolType], first[gatewayv1.HTTPSProtocolType]
	var l *gatewayv1.Listener
	want := "HTTP or HTTPS"
	switch o.GatewayScheme {
	case "http":
		l, want = plain, "HTTP"
	case "https":
		l, want = secure, "HTTPS"
	default:
		switch {
		case secure != nil && (len(o.CAData) > 0 || o.InsecureSkipTLSVerify), plain == nil:
			l = secure
		default:
			l = plain
		}
	}
	if l == nil {
		return nil, &GatewayError{Namespace: g.Namespace, Name: g.Name, Problem: "has no " + want + " listener", NoListener: true}
	}
	return l, nil
}

// programmed says what keeps the Gateway, or its listener, from being
// Programmed, if anything.
func programmed(g *gatewayv1.Gateway, listener gatewayv1.SectionName) (problem, reason string) {
	c := meta.FindStatusCondition(g.Status.Conditions, string(gatewayv1.GatewayConditionProgrammed))
	switch {
	case c == nil:
		return "is not Programmed", "no Gateway controller has written its status: check its gatewayClassName"
	case c.ObservedGeneration != 0 && c.ObservedGeneration < g.Generation:
		return "is not Programmed", fmt.Sprintf("its controller has not seen generation %d yet", g.Generation)
	case c.Status != metav1.ConditionTrue:
		return "is not Programmed", conditionReason(c)
	}
	for _, ls := range g.Status.Listeners {
		if ls.Name != listener {
			continue
		}
		if c := meta.FindStatusCondition(ls.Conditions, string(gatewayv1.ListenerConditionProgrammed)); c != nil && c.Status != metav1.ConditionTrue {
			return "is Programmed but its listener " + string(listener) + " is not", conditionReason(c)
		}
	}
	return "", ""
}

// conditionReason is "Reason: message", on one line.
func conditionReason(c *metav1.Condition) string {
	msg := strings.Join(strings.Fields(c.Message), " ")
	switch {
	case c.Reason == "":
		return msg
	case msg == "":
		return c.Reason
	}
	return c.Reason + ": " + msg
}

// viaGateway waits up to GatewayTimeout for the Gateway to be Programmed
// with a usable address, and builds the router URL from it and its
// listener.
func viaGateway(ctx context.Context, clients *kube.Clients, o Options) (*Conn, error) {
	ns := o.GatewayNamespace
	notFound := &GatewayError{Namespace: ns, Name: o.Gateway, NotFound: true}
	gateways := clients.Gateway.GatewayV1().Gateways(ns)
	// The common case, a Programmed Gateway, takes one GET; only a Gateway
	// still waiting for its controller is watched.
	g, err := gateways.Get(ctx, o.Gateway, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, notFound
	}
	if err != nil {
		return nil, fmt.Errorf("reading gateway %s/%s: %w", ns, o.Gateway, err)
	}
	// last starts as what the GET saw, so that a timeout says what is
	// missing even if the watch delivers nothing (say, list is forbidden).
	ep, last := GatewayEndpoint(g, o)
	var gwErr *GatewayError
	if ep == nil && errors.As(last, &gwErr) && gwErr.NoListener {
		return nil, last
	}
	if ep == nil {
		wctx, cancel := context.WithTimeout(ctx, o.GatewayTimeout)
		defer cancel()
		w := kube.Watch{
			LW: kube.ByName(o.Gateway, gateways.List, gateways.Watch), Name: o.Gateway, What: "gateway " + ns + "/" + o.Gateway,
			Absent: func() (bool, error) { return true, notFound }, Retry: true,
		}
		err = w.Until(wctx, func(ev watch.Event) (bool, error) {
			g, ok := ev.Object.(*gatewayv1.Gateway)
			if !ok || g.Name != o.Gateway {
				return false, nil
			}
			if ev.Type == watch.Deleted {
				return false, notFound
			}
			ep, last = GatewayEndpoint(g, o)
			if errors.As(last, &gwErr) && gwErr.NoListener {
				return false, last
			}
			return ep != nil, nil
		})
		switch {
		case err == nil:
		case ctx.Err() != nil:
			// The caller gave up: say so, not "timed out waiting".
			return nil, fmt.Errorf("waiting for gateway %s/%s: %w", ns, o.Gateway, ctx.Err())
		case wctx.Err() == nil:
			return nil, err
		default:
			errors.As(last, &gwErr)
			timedOut := *gwErr
			timedOut.After = o.GatewayTimeout
			return nil, &timedOut
		}
	}
	via := fmt.Sprintf("gateway %s/%s at %s (listener %s)", ns, o.Gateway, ep.URL.Host, ep.Listener)
	return &Conn{BaseURL: ep.URL, Via: via, hostname: ep.Hostname}, nil
}

func usableAddress(v string) bool {
	if net.ParseIP(v) != nil {
		return true
	}
	if len(validation.IsDNS1123Subdomain(v)) > 0 || strings.ContainsAny(v, "/?#@") {
		return false
	}
	labels := strings.Split(v, ".")
	_, numeric := strconv.Atoi(labels[len(labels)-1])
	return numeric != nil // an all-numeric last label is a malformed IP, not a name
}
