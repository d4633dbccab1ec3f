// Package client builds the plugin's Kubernetes clients from the root
// command's ConfigFlags, lazily and at most once, so that every verb honours
// --kubeconfig, --context, --namespace, --as and --token.
package client

import (
	"sync"

	"k8s.io/cli-runtime/pkg/genericclioptions"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/rest"
	gatewayclient "sigs.k8s.io/gateway-api/pkg/client/clientset/versioned"

	agentsclient "sigs.k8s.io/agent-sandbox/clients/k8s/clientset/versioned"
	extclient "sigs.k8s.io/agent-sandbox/clients/k8s/extensions/clientset/versioned"

	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/version"
)

// Factory hands out clients for one invocation of the plugin.
type Factory interface {
	// Namespace is the namespace from --namespace or the kubeconfig context.
	Namespace() (string, error)
	RESTConfig() (*rest.Config, error)
	// Core is the core/v1 client (pods, events, services, port-forward).
	Core() (corev1client.CoreV1Interface, error)
	Extensions() (extclient.Interface, error)
	Agents() (agentsclient.Interface, error)
	Gateway() (gatewayclient.Interface, error)
}

type factory struct {
	getter genericclioptions.RESTClientGetter

	configOnce sync.Once
	config     *rest.Config
	configErr  error
}

// New returns a Factory over a RESTClientGetter (the root ConfigFlags).
func New(getter genericclioptions.RESTClientGetter) Factory {
	return &factory{getter: getter}
}

func (f *factory) Namespace() (string, error) {
	ns, _, err := f.getter.ToRawKubeConfigLoader().Namespace()
	return ns, err
}

func (f *factory) RESTConfig() (*rest.Config, error) {
	f.configOnce.Do(func() {
		f.config, f.configErr = f.getter.ToRESTConfig()
		if f.configErr == nil {
			f.config = rest.CopyConfig(f.config)
			f.config.UserAgent = "kubectl-sandbox/" + version.Get().Version
			if f.config.QPS == 0 {
				f.config.QPS, f.config.Burst = 50, 100
			}
		}
	})
	return f.config, f.configErr
}

func newClient[T any](f *factory, mk func(*rest.Config) (T, error)) (T, error) {
	cfg, err := f.RESTConfig()
	if err != nil {
		var zero T
		return zero, err
	}
	return mk(cfg)
}

func (f *factory) Core() (corev1client.CoreV1Interface, error) {
	return newClient(f, func(c *rest.Config) (corev1client.CoreV1Interface, error) { return corev1client.NewForConfig(c) })
}

func (f *factory) Extensions() (extclient.Interface, error) {
	return newClient(f, func(c *rest.Config) (extclient.Interface, error) { return extclient.NewForConfig(c) })
}

func (f *factory) Agents() (agentsclient.Interface, error) {
	return newClient(f, func(c *rest.Config) (agentsclient.Interface, error) { return agentsclient.NewForConfig(c) })
}

func (f *factory) Gateway() (gatewayclient.Interface, error) {
	return newClient(f, func(c *rest.Config) (gatewayclient.Interface, error) { return gatewayclient.NewForConfig(c) })
}
