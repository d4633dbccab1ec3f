// Command podruntime stands in for the part of a kubelet that the local test
// cluster lacks: for each sandbox pod that kwok gives an IP on the fake node,
// it starts the upstream agent-sandbox python runtime listening on that IP
// (with a private /app, inside bubblewrap), reports the pod Ready once the
// pod's readiness probe answers, and stops the runtime when the pod goes
// away. It is test infrastructure, not an isolation boundary.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/klog/v2"
)

func main() {
	var cfg config
	var kubeconfig string
	flag.StringVar(&kubeconfig, "kubeconfig", "", "kubeconfig of the cluster")
	flag.StringVar(&cfg.node, "node", "kwok-node-0", "node whose sandbox pods get a runtime")
	flag.StringVar(&cfg.runtimeDir, "runtime-dir", "", "folder holding the upstream runtime's main.py")
	flag.StringVar(&cfg.podsDir, "pods-dir", "", "folder for each pod's private /app")
	flag.StringVar(&cfg.resolvConf, "resolv-conf", "", "resolv.conf to give each runtime")
	flag.StringVar(&cfg.python, "python", "/usr/bin/python3", "python interpreter with fastapi and uvicorn")
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
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	s := newSupervisor(kubernetes.NewForConfigOrDie(rest), cfg)
	if err := s.run(ctx); err != nil {
		klog.Fatal(err)
	}
}
