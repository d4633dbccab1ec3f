package cmd

import (
	"context"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// nameLister lists object names in the current namespace, for completion.
type nameLister func(ctx context.Context, f Factory) ([]string, error)

// listNames lists the names of one kind in the current namespace.
func listNames(k kind) nameLister {
	return func(ctx context.Context, f Factory) ([]string, error) {
		ns, err := f.Namespace()
		if err != nil {
			return nil, err
		}
		clients, err := f.Clients()
		if err != nil {
			return nil, err
		}
		list, err := k.in(clients.Ext, ns).list(ctx, metav1.ListOptions{})
		if err != nil {
			return nil, err
		}
		var names []string
		err = meta.EachListItem(list, func(obj runtime.Object) error {
			m, err := meta.Accessor(obj)
			if err == nil {
				names = append(names, m.GetName())
			}
			return err
		})
		return names, err
	}
}

var (
	listClaimNames    = listNames(claimKind)
	listPoolNames     = listNames(poolKind)
	listTemplateNames = listNames(templateKind)
)

// completeNames completes names from list that start with the typed prefix
// and are not already arguments.
func completeNames(f Factory, list nameLister) cobra.CompletionFunc {
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
func registerNameCompletion(cmd *cobra.Command, f Factory, flag string, list nameLister) {
	_ = cmd.RegisterFlagCompletionFunc(flag, completeNames(f, list))
}
