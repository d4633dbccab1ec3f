package router

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/tools/cache"
	watchtools "k8s.io/client-go/tools/watch"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/client"
)

// viaGateway waits up to GatewayTimeout for the Gateway to have a usable
// address and builds the router URL from it and its HTTP(S) listener.
func viaGateway(ctx context.Context, clients client.Factory, o Options) (*Conn, error) {
	gw, err := clients.Gateway()
	if err != nil {
		return nil, err
	}
	ns := o.GatewayNamespace
	if ns == "" {
		if ns, err = clients.Namespace(); err != nil {
			return nil, err
		}
	}
	gateways := gw.GatewayV1().Gateways(ns)
	// The common case, an addressed Gateway, takes one GET; only a Gateway
	// still waiting for its address is watched.
	g, err := gateways.Get(ctx, o.Gateway, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, fmt.Errorf("gateway %q not found in namespace %q: check --gateway and --gateway-namespace", o.Gateway, ns)
	}
	if err != nil {
		return nil, fmt.Errorf("reading gateway %s/%s: %w", ns, o.Gateway, err)
	}
	if base, _ := gatewayURL(g); base != nil {
		return &Conn{BaseURL: base, Via: fmt.Sprintf("gateway %s/%s at %s", ns, o.Gateway, base.Host)}, nil
	}
	sel := fields.OneTermEqualSelector("metadata.name", o.Gateway).String()
	lw := &cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, opts metav1.ListOptions) (runtime.Object, error) {
			opts.FieldSelector = sel
			return gateways.List(ctx, opts)
		},
		WatchFuncWithContext: func(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
			opts.FieldSelector = sel
			return gateways.Watch(ctx, opts)
		},
	}
	wctx, cancel := context.WithTimeout(ctx, o.GatewayTimeout)
	defer cancel()
	var base *url.URL
	var lastProblem string
	_, err = watchtools.UntilWithSync(wctx, lw, &gatewayv1.Gateway{}, func(store cache.Store) (bool, error) {
		if _, exists, _ := store.GetByKey(ns + "/" + o.Gateway); !exists {
			return true, fmt.Errorf("gateway %q not found in namespace %q: check --gateway and --gateway-namespace", o.Gateway, ns)
		}
		return false, nil
	}, func(ev watch.Event) (bool, error) {
		g, ok := ev.Object.(*gatewayv1.Gateway)
		if !ok || g.Name != o.Gateway {
			return false, nil
		}
		if ev.Type == watch.Deleted {
			return false, fmt.Errorf("gateway %s/%s was deleted", ns, o.Gateway)
		}
		base, lastProblem = gatewayURL(g)
		return base != nil, nil
	})
	if err != nil {
		if wctx.Err() == nil || ctx.Err() != nil {
			return nil, err
		}
		return nil, fmt.Errorf("gateway %s/%s has no usable address after %s (%s): is a Gateway controller programming it?", ns, o.Gateway, o.GatewayTimeout, lastProblem)
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
