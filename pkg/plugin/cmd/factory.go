package cmd

import (
	"sync"

	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/client-go/rest"

	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/kube"
	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/version"
)

// Factory turns the root command's kubeconfig flags into what the engine
// takes, so that every verb honours --kubeconfig, --context, --namespace,
// --as and --token. Tests replace it.
type Factory interface {
	// Namespace is the namespace from --namespace or the kubeconfig context.
	Namespace() (string, error)
	// Clients are the typed clients, made once, on first use.
	Clients() (*kube.Clients, error)
}

type factory struct {
	getter genericclioptions.RESTClientGetter

	once    sync.Once
	clients *kube.Clients
	err     error
}

// NewFactory returns a Factory over a RESTClientGetter (the root ConfigFlags).
func NewFactory(getter genericclioptions.RESTClientGetter) Factory {
	return &factory{getter: getter}
}

func (f *factory) Namespace() (string, error) {
	ns, _, err := f.getter.ToRawKubeConfigLoader().Namespace()
	return ns, err
}

func (f *factory) Clients() (*kube.Clients, error) {
	f.once.Do(func() {
		cfg, err := f.getter.ToRESTConfig()
		if err != nil {
			f.err = err
			return
		}
		f.clients, f.err = kube.NewClients(restConfig(cfg))
	})
	return f.clients, f.err
}

// restConfig stamps the plugin's user agent and raises client-go's default
// rate limit (5 QPS) for fan-out over many sandboxes.
func restConfig(cfg *rest.Config) *rest.Config {
	cfg = rest.CopyConfig(cfg)
	cfg.UserAgent = "kubectl-sandbox/" + version.Get().Version
	if cfg.QPS == 0 {
		cfg.QPS, cfg.Burst = 50, 100
	}
	return cfg
}
