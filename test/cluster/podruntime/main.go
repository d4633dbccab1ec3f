// Command podruntime stands in for the part of a kubelet that the local test
// cluster lacks: for each sandbox pod that kwok gives an IP on the fake node,
// it starts the pod's runtime, reports the pod Ready once the pod's
// readiness probe answers, and stops the runtime when the pod goes away. The
// runtime is the upstream agent-sandbox python runtime listening on the pod's
// IP (with a private /app, inside bubblewrap), or for pods of the sandboxd
// kind the upstream sandboxd in the pod's own network namespace (with a
// private /workspace, inside bubblewrap), reached through port-forwards (see
// sandboxd.go). It is test infrastructure, not an isolation boundary.
//
// For each pod it also keeps a kwok PortForward (one forward per port the
// pod's processes listen on, see ports.go) and a kwok Logs object (its
// runtime's output, in the CRI log format, see logs.go), so that `kubectl
// port-forward` reaches any port of the pod and `kubectl logs` shows its
// runtime's output. `podruntime relay` is the command of those
// port-forwards (see relay.go).
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/klog/v2"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "relay" {
		os.Exit(relayMain(os.Args[2:]))
	}
	var cfg config
	var kubeconfig string
	flag.StringVar(&kubeconfig, "kubeconfig", "", "kubeconfig of the cluster")
	flag.StringVar(&cfg.node, "node", "kwok-node-0", "node whose sandbox pods get a runtime")
	flag.StringVar(&cfg.runtimeDir, "runtime-dir", "", "folder holding the upstream runtime's main.py")
	flag.StringVar(&cfg.podsDir, "pods-dir", "", "folder for each pod's private /app")
	flag.StringVar(&cfg.resolvConf, "resolv-conf", "", "resolv.conf to give each runtime")
	flag.StringVar(&cfg.python, "python", "/usr/bin/python3", "python interpreter with fastapi and uvicorn")
	flag.StringVar(&cfg.sandboxd, "sandboxd", "", "sandboxd binary, for pods of the sandboxd kind")
	flag.StringVar(&cfg.logsDir, "logs-dir", "", "folder for one log file per pod (none if empty)")
	klog.InitFlags(nil)
	flag.Parse()
	if cfg.runtimeDir == "" || cfg.podsDir == "" {
		fmt.Fprintln(os.Stderr, "error: --runtime-dir and --pods-dir are required")
		os.Exit(2)
	}
	rest, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		klog.Fatalf("loading kubeconfig: %v", err)
	}
	if cfg.self, err = os.Executable(); err != nil {
		klog.Fatalf("finding this binary: %v", err)
	}
	if cfg.logsDir != "" {
		if err := os.MkdirAll(cfg.logsDir, 0o755); err != nil {
			klog.Fatal(err)
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	s := newSupervisor(kubernetes.NewForConfigOrDie(rest), cfg)
	s.dynamic = dynamic.NewForConfigOrDie(rest)
	if err := s.run(ctx); err != nil {
		klog.Fatal(err)
	}
}
