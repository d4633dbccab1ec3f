package cmd

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/cli-runtime/pkg/printers"

	extclient "sigs.k8s.io/agent-sandbox/clients/k8s/extensions/clientset/versioned"
	extv1beta1 "sigs.k8s.io/agent-sandbox/extensions/api/v1beta1"

	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/claims"
	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/tables"
)

// GetOptions lists or gets objects of one kind and prints them with
// kubectl's printers.
type GetOptions struct {
	Output        string
	NoHeaders     bool
	SortBy        string
	ShowLabels    bool
	Selector      string
	AllNamespaces bool
	Watch         bool

	kind      kind
	names     []string
	namespace string
	human     bool
	printer   printers.ResourcePrinter
	// pools are read once per invocation for the TEMPLATE and POOLS columns.
	pools []extv1beta1.SandboxWarmPool

	Clients Factory
	Now     func() time.Time
	genericiooptions.IOStreams
}

// listCommand describes one listing verb.
type listCommand struct {
	use, short, example string
	aliases             []string
	kind                kind
	complete            nameLister
}

func newListCommand(lc listCommand, f Factory, streams genericiooptions.IOStreams) *cobra.Command {
	o := &GetOptions{kind: lc.kind, Clients: f, Now: clock, IOStreams: streams}
	cmd := &cobra.Command{
		Use: lc.use, Short: lc.short, Example: lc.example, Aliases: lc.aliases,
		ValidArgsFunction: completeNames(f, lc.complete),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.Complete(args); err != nil {
				return err
			}
			if err := o.Validate(); err != nil {
				return err
			}
			return o.Run(cmd.Context())
		},
	}
	cmd.Flags().StringVarP(&o.Output, "output", "o", "", "Output format: json, yaml, name, wide, custom-columns=HEADER:.field,..., jsonpath=..., go-template=...")
	cmd.Flags().BoolVar(&o.NoHeaders, "no-headers", false, "Do not print headers (default and custom-columns output)")
	cmd.Flags().StringVar(&o.SortBy, "sort-by", "", "Sort by this field (a JSONPath such as .metadata.creationTimestamp)")
	cmd.Flags().BoolVar(&o.ShowLabels, "show-labels", false, "Show all labels as the last column")
	cmd.Flags().StringVarP(&o.Selector, "selector", "l", "", "Label selector to filter on (e.g. -l key=value)")
	cmd.Flags().BoolVarP(&o.AllNamespaces, "all-namespaces", "A", false, "List across all namespaces")
	cmd.Flags().BoolVarP(&o.Watch, "watch", "w", false, "After listing, watch for changes")
	return cmd
}

// NewCmdGet returns `kubectl sandbox get` (alias list).
func NewCmdGet(f Factory, streams genericiooptions.IOStreams) *cobra.Command {
	return newListCommand(listCommand{
		use:     "get [NAME...]",
		aliases: []string{"list"},
		short:   "List sandbox claims and their sandboxes",
		example: `  # List the claims in the current namespace
  kubectl sandbox get

  # Show pod IPs, warm or cold launch, and expiry
  kubectl sandbox get -o wide

  # List the claims of every namespace, newest last
  kubectl sandbox get -A --sort-by=.metadata.creationTimestamp

  # Print one claim's bound sandbox name
  kubectl sandbox get my-sandbox -o jsonpath='{.status.sandbox.name}'`,
		kind:     claimKind,
		complete: listClaimNames,
	}, f, streams)
}

// NewCmdTemplates returns `kubectl sandbox templates`.
func NewCmdTemplates(f Factory, streams genericiooptions.IOStreams) *cobra.Command {
	return newListCommand(listCommand{
		use:   "templates [NAME...]",
		short: "List sandbox templates and the pools that use them",
		example: `  # List the templates of the current namespace
  kubectl sandbox templates`,
		kind:     templateKind,
		complete: listTemplateNames,
	}, f, streams)
}

// NewCmdPools returns `kubectl sandbox pools`.
func NewCmdPools(f Factory, streams genericiooptions.IOStreams) *cobra.Command {
	return newListCommand(listCommand{
		use:   "pools [NAME...]",
		short: "List sandbox warm pools with their ready and desired sandboxes",
		example: `  # List the warm pools of the current namespace
  kubectl sandbox pools`,
		kind:     poolKind,
		complete: listPoolNames,
	}, f, streams)
}

// Complete takes the names and, without -A, the namespace, and makes the
// printer.
func (o *GetOptions) Complete(args []string) error {
	o.names = args
	var err error
	if !o.AllNamespaces {
		if o.namespace, err = o.Clients.Namespace(); err != nil {
			return err
		}
	}
	o.printer, err = o.toPrinter()
	return err
}

// Validate checks the names, the selector and -o; it makes no API calls.
func (o *GetOptions) Validate() error {
	for _, n := range o.names {
		if err := validateName(strings.TrimSuffix(o.kind.resource, "s"), n); err != nil {
			return err
		}
	}
	switch {
	case len(o.names) > 0 && o.Selector != "":
		return errors.New("names and --selector cannot be used together")
	case len(o.names) > 0 && o.AllNamespaces:
		return errors.New("a resource cannot be retrieved by name across all namespaces (drop -A, or use -n NAMESPACE)")
	}
	_, err := parseSelector(o.Selector)
	return err
}

// toPrinter picks kubectl's printer for -o: tables for the default and
// wide, cli-runtime's printers for json, yaml, name and templates.
func (o *GetOptions) toPrinter() (printers.ResourcePrinter, error) {
	switch {
	case o.Output == "" || o.Output == "wide":
		o.human = true
		return printers.NewTablePrinter(printers.PrintOptions{
			NoHeaders: o.NoHeaders, Wide: o.Output == "wide", WithNamespace: o.AllNamespaces, ShowLabels: o.ShowLabels,
		}), nil
	case strings.HasPrefix(o.Output, "custom-columns="):
		cc, err := tables.NewCustomColumns(strings.TrimPrefix(o.Output, "custom-columns="))
		if err != nil {
			return nil, err
		}
		cc.NoHeaders = o.NoHeaders
		return cc, nil
	}
	pf := genericclioptions.NewPrintFlags("")
	pf.OutputFormat = &o.Output
	p, err := pf.ToPrinter()
	if genericclioptions.IsNoCompatiblePrinterError(err) {
		return nil, fmt.Errorf("unknown --output %q: use json, yaml, name, wide, custom-columns=, jsonpath= or go-template=", o.Output)
	}
	return p, err
}

// Run fetches, prints and, with --watch, follows changes. Names that do
// not exist are reported after the ones that do are printed; with --watch
// they end the command before it watches, as kubectl does.
func (o *GetOptions) Run(ctx context.Context) error {
	clients, err := o.Clients.Clients()
	if err != nil {
		return err
	}
	ext := clients.Ext
	list, missing, err := o.fetch(ctx, ext)
	if err != nil {
		return err
	}
	if err := o.print(ctx, ext, list); err != nil {
		return err
	}
	if len(missing) > 0 {
		return errors.Join(missing...)
	}
	if o.Watch {
		return o.watch(ctx, ext, list)
	}
	return nil
}

// fetch lists (or gets the named) objects; missing names are returned apart
// so that the found ones still print, as kubectl does.
// With --watch, named objects are picked out of one list, whose resource
// version the watch starts from.
func (o *GetOptions) fetch(ctx context.Context, ext extclient.Interface) (runtime.Object, []error, error) {
	if len(o.names) == 0 || o.Watch {
		opts := metav1.ListOptions{LabelSelector: o.Selector}
		if len(o.names) == 1 {
			opts.FieldSelector = "metadata.name=" + o.names[0]
		}
		list, err := o.kind.in(ext, o.namespace).list(ctx, opts)
		if err != nil {
			return nil, nil, fmt.Errorf("listing %s: %w", o.kind.resource, err)
		}
		if len(o.names) == 0 {
			return o.withKinds(list), nil, nil
		}
		found := map[string]runtime.Object{}
		err = meta.EachListItem(list, func(obj runtime.Object) error {
			m, err := meta.Accessor(obj)
			if err == nil {
				found[m.GetName()] = obj
			}
			return err
		})
		if err != nil {
			return nil, nil, err
		}
		items, missing, _ := o.pick(func(name string) (runtime.Object, bool, error) { obj, ok := found[name]; return obj, ok, nil })
		if err := meta.SetList(list, items); err != nil {
			return nil, nil, err
		}
		return o.withKinds(list), missing, nil
	}
	items, missing, err := o.pick(func(name string) (runtime.Object, bool, error) {
		obj, err := o.kind.in(ext, o.namespace).get(ctx, name, metav1.GetOptions{})
		if claims.IsObjectNotFound(err) {
			return nil, false, nil
		}
		if err != nil {
			return nil, false, fmt.Errorf("getting %s %q: %w", o.kind.resource, name, err)
		}
		return obj, true, nil
	})
	if err != nil {
		return nil, nil, err
	}
	list := o.kind.newList()
	if err := meta.SetList(list, items); err != nil {
		return nil, nil, err
	}
	return o.withKinds(list), missing, nil
}

// pick looks up each name in order; missing ones become errors, and a
// failed lookup stops it.
func (o *GetOptions) pick(lookup func(name string) (runtime.Object, bool, error)) ([]runtime.Object, []error, error) {
	var items []runtime.Object
	var missing []error
	for _, name := range o.names {
		obj, ok, err := lookup(name)
		switch {
		case err != nil:
			return nil, nil, err
		case !ok:
			missing = append(missing, fmt.Errorf("%s.%s %q not found in namespace %q", strings.ToLower(o.kind.gvk.Kind), o.kind.gvk.Group, name, o.namespace))
		default:
			items = append(items, obj)
		}
	}
	return items, missing, nil
}

// withKinds sets the list's and items' apiVersion and kind, which typed
// clients leave empty and printers need.
func (o *GetOptions) withKinds(list runtime.Object) runtime.Object {
	_ = meta.EachListItem(list, func(obj runtime.Object) error {
		obj.GetObjectKind().SetGroupVersionKind(o.kind.gvk)
		return nil
	})
	list.GetObjectKind().SetGroupVersionKind(schema.GroupVersionKind{Version: "v1", Kind: "List"})
	return list
}

func (o *GetOptions) print(ctx context.Context, ext extclient.Interface, list runtime.Object) error {
	n := meta.LenList(list)
	if !o.human {
		if o.SortBy != "" {
			if err := tables.SortList(list, o.SortBy); err != nil {
				return err
			}
		}
		if (len(o.names) == 1 && n == 1) || o.Output == "name" {
			// kubectl prints a single named object bare; the name printer
			// takes items one at a time.
			return meta.EachListItem(list, func(obj runtime.Object) error { return o.printer.PrintObj(obj, o.Out) })
		}
		return o.printer.PrintObj(list, o.Out)
	}
	if n == 0 && len(o.names) == 0 {
		if o.namespace == "" {
			fmt.Fprintln(o.ErrOut, "No resources found")
		} else {
			fmt.Fprintf(o.ErrOut, "No resources found in %s namespace.\n", o.namespace)
		}
		return nil
	}
	table, err := o.table(ctx, ext, list)
	if err != nil {
		return err
	}
	if o.SortBy != "" {
		if err := tables.SortRows(table, o.SortBy); err != nil {
			return err
		}
	}
	return o.printer.PrintObj(table, o.Out)
}

// table renders list, reading the namespace's warm pools once if needed.
func (o *GetOptions) table(ctx context.Context, ext extclient.Interface, list runtime.Object) (*metav1.Table, error) {
	if o.kind.needsPools && o.pools == nil {
		pools, err := ext.ExtensionsV1beta1().SandboxWarmPools(o.namespace).List(ctx, metav1.ListOptions{})
		if err != nil {
			return nil, fmt.Errorf("listing sandboxwarmpools: %w", err)
		}
		o.pools = append([]extv1beta1.SandboxWarmPool{}, pools.Items...)
	}
	return o.kind.table(list, o.pools, o.Now()), nil
}
