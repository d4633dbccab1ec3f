// Package kube holds the Kubernetes clients that the engine packages use.
// Front-ends build them (from kubeconfig flags, say); tests fill them with
// the generated fake clientsets.
package kube

import (
	appsv1client "k8s.io/client-go/kubernetes/typed/apps/v1"
	authzclient "k8s.io/client-go/kubernetes/typed/authorization/v1"
	coordinationv1client "k8s.io/client-go/kubernetes/typed/coordination/v1"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
	nodev1client "k8s.io/client-go/kubernetes/typed/node/v1"
	"k8s.io/client-go/rest"
	gatewayclient "sigs.k8s.io/gateway-api/pkg/client/clientset/versioned"

	agentsclient "sigs.k8s.io/agent-sandbox/clients/k8s/clientset/versioned"
	extclient "sigs.k8s.io/agent-sandbox/clients/k8s/extensions/clientset/versioned"
)

// Clients are the typed clients of one cluster identity.
type Clients struct {
	// Config is the REST config they were made from (port-forwards and
	// discovery use it directly).
	Config *rest.Config
	// Core is the core/v1 client: pods, services, events, port-forwards.
	Core corev1client.CoreV1Interface
	// Ext serves SandboxClaims, SandboxTemplates and SandboxWarmPools.
	Ext extclient.Interface
	// Agents serves Sandboxes.
	Agents  agentsclient.Interface
	Gateway gatewayclient.Interface
	// Authz answers access reviews (to explain a refused port-forward or
	// exec).
	Authz authzclient.AuthorizationV1Interface
	// Node reads RuntimeClasses (which runtime isolates a sandbox's pod);
	// nil means they are not read.
	Node nodev1client.NodeV1Interface
	// Apps and Coordination read the controller's Deployment and its
	// leader-election Lease (doctor, which makes them: NewClients does not,
	// for the other verbs' sake); nil means they are not checked.
	Apps         appsv1client.AppsV1Interface
	Coordination coordinationv1client.CoordinationV1Interface
}

// NewClients makes every client from cfg. It makes no API call.
func NewClients(cfg *rest.Config) (*Clients, error) {
	c := &Clients{Config: cfg}
	var err error
	if c.Core, err = corev1client.NewForConfig(cfg); err != nil {
		return nil, err
	}
	if c.Ext, err = extclient.NewForConfig(cfg); err != nil {
		return nil, err
	}
	if c.Agents, err = agentsclient.NewForConfig(cfg); err != nil {
		return nil, err
	}
	if c.Gateway, err = gatewayclient.NewForConfig(cfg); err != nil {
		return nil, err
	}
	if c.Authz, err = authzclient.NewForConfig(cfg); err != nil {
		return nil, err
	}
	if c.Node, err = nodev1client.NewForConfig(cfg); err != nil {
		return nil, err
	}
	return c, nil
}
