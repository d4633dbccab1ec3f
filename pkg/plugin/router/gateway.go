package router

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
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
	// After and Problem: it had no usable address within After.
	After   time.Duration
	Problem string
}

func (e *GatewayError) Error() string {
	if e.NotFound {
		return fmt.Sprintf("gateway %q not found in namespace %q", e.Name, e.Namespace)
	}
	return fmt.Sprintf("gateway %s/%s has no usable address after %s (%s)", e.Namespace, e.Name, e.After, e.Problem)
}

// viaGateway waits up to GatewayTimeout for the Gateway to have a usable
// address and builds the router URL from it and its HTTP(S) listener.
func viaGateway(ctx context.Context, clients *kube.Clients, o Options) (*Conn, error) {
	ns := o.GatewayNamespace
	notFound := &GatewayError{Namespace: ns, Name: o.Gateway, NotFound: true}
	gateways := clients.Gateway.GatewayV1().Gateways(ns)
	// The common case, an addressed Gateway, takes one GET; only a Gateway
	// still waiting for its address is watched.
	g, err := gateways.Get(ctx, o.Gateway, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, notFound
	}
	if err != nil {
		return nil, fmt.Errorf("reading gateway %s/%s: %w", ns, o.Gateway, err)
	}
	// lastProblem starts as what the GET saw, so that a timeout says what is
	// missing even if the watch delivers nothing (say, list is forbidden).
	base, lastProblem := gatewayURL(g)
	if base != nil {
		return &Conn{BaseURL: base, Via: fmt.Sprintf("gateway %s/%s at %s", ns, o.Gateway, base.Host)}, nil
	}
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
		base, lastProblem = gatewayURL(g)
		return base != nil, nil
	})
	if err != nil {
		if ctx.Err() != nil {
			// The caller gave up: say so, not "timed out waiting".
			return nil, fmt.Errorf("waiting for gateway %s/%s: %w", ns, o.Gateway, ctx.Err())
		}
		if wctx.Err() == nil {
			return nil, err
		}
		return nil, &GatewayError{Namespace: ns, Name: o.Gateway, After: o.GatewayTimeout, Problem: lastProblem}
	}
	return &Conn{BaseURL: base, Via: fmt.Sprintf("gateway %s/%s at %s", ns, o.Gateway, base.Host)}, nil
}

// gatewayURL picks the first usable status address and the first HTTP or
// HTTPS listener; it says what is missing otherwise.
func gatewayURL(g *gatewayv1.Gateway) (*url.URL, string) {
	host := ""
	for _, a := range g.Status.Addresses {
		if usableAddress(a.Value) {
			host = a.Value
			break
		}
	}
	if host == "" {
		return nil, "status.addresses has no IP address or hostname yet"
	}
	for _, l := range g.Spec.Listeners {
		scheme := strings.ToLower(string(l.Protocol))
		if scheme == "http" || scheme == "https" {
			return &url.URL{Scheme: scheme, Host: net.JoinHostPort(host, strconv.Itoa(int(l.Port)))}, ""
		}
	}
	return nil, "it has no HTTP or HTTPS listener"
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
