package cmd

import (
	"context"
	"strings"
	"time"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	extclient "sigs.k8s.io/agent-sandbox/clients/k8s/extensions/clientset/versioned"

	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/client"
)

// nameLister lists object names in the current namespace, for completion.
type nameLister func(ctx context.Context, f client.Factory) ([]string, error)

func listClaimNames(ctx context.Context, f client.Factory) ([]string, error) {
	ext, ns, err := extAndNamespace(f)
	if err != nil {
		return nil, err
	}
	list, err := ext.ExtensionsV1beta1().SandboxClaims(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	var names []string
	for _, c := range list.Items {
		names = append(names, c.Name)
	}
	return names, nil
}

func listPoolNames(ctx context.Context, f client.Factory) ([]string, error) {
	ext, ns, err := extAndNamespace(f)
	if err != nil {
		return nil, err
	}
	list, err := ext.ExtensionsV1beta1().SandboxWarmPools(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	var names []string
	for _, p := range list.Items {
		names = append(names, p.Name)
	}
	return names, nil
}

func listTemplateNames(ctx context.Context, f client.Factory) ([]string, error) {
	ext, ns, err := extAndNamespace(f)
	if err != nil {
		return nil, err
	}
	list, err := ext.ExtensionsV1beta1().SandboxTemplates(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	var names []string
	for _, t := range list.Items {
		names = append(names, t.Name)
	}
	return names, nil
}

// completeNames completes names from list that start with the typed prefix
// and are not already arguments.
func completeNames(f client.Factory, list nameLister) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		names, err := list(ctx, f)
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		seen := map[string]bool{}
		for _, a := range args {
			seen[a] = true
		}
		var out []string
		for _, n := range names {
			if strings.HasPrefix(n, toComplete) && !seen[n] {
				out = append(out, n)
			}
		}
		return out, cobra.ShellCompDirectiveNoFileComp
	}
}

// registerNameCompletion completes a flag's value with list.
func registerNameCompletion(cmd *cobra.Command, f client.Factory, flag string, list nameLister) {
	_ = cmd.RegisterFlagCompletionFunc(flag, completeNames(f, list))
}

// extAndNamespace returns the extensions client and the current namespace.
func extAndNamespace(f client.Factory) (extclient.Interface, string, error) {
	ns, err := f.Namespace()
	if err != nil {
		return nil, "", err
	}
	ext, err := f.Extensions()
	return ext, ns, err
}
