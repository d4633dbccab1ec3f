package cmd

import (
	"context"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/cli-runtime/pkg/printers"
	"k8s.io/client-go/tools/cache"
	watchtools "k8s.io/client-go/tools/watch"

	extclient "sigs.k8s.io/agent-sandbox/clients/k8s/extensions/clientset/versioned"
)

// watch prints every change after the initial listing until interrupted. The
// retry watcher resumes from the last resource version after a dropped
// connection.
func (o *GetOptions) watch(ctx context.Context, ext extclient.Interface, list runtime.Object) error {
	listMeta, err := meta.ListAccessor(list)
	if err != nil {
		return err
	}
	lw := &cache.ListWatch{WatchFuncWithContext: func(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
		opts.LabelSelector = o.Selector
		if len(o.names) == 1 {
			opts.FieldSelector = "metadata.name=" + o.names[0]
		}
		return o.kind.in(ext, o.namespace).watch(ctx, opts)
	}}
	rw, err := watchtools.NewRetryWatcherWithContext(ctx, listMeta.GetResourceVersion(), lw)
	if err != nil {
		return err
	}
	defer rw.Stop()
	wanted := map[string]bool{}
	for _, n := range o.names {
		wanted[n] = true
	}
	rows := o.printer
	if o.human {
		rows = printers.NewTablePrinter(printers.PrintOptions{
			NoHeaders: true, Wide: o.Output == "wide", WithNamespace: o.AllNamespaces, ShowLabels: o.ShowLabels,
		})
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-rw.ResultChan():
			if !ok || ctx.Err() != nil {
				return nil // interrupted: the end of a watch, not an error
			}
			if ev.Type == watch.Error {
				return apierrors.FromObject(ev.Object)
			}
			if ev.Type == watch.Bookmark {
				continue
			}
			obj, err := meta.Accessor(ev.Object)
			if err != nil || (len(wanted) > 0 && !wanted[obj.GetName()]) {
				continue
			}
			ev.Object.GetObjectKind().SetGroupVersionKind(o.kind.gvk)
			if err := o.printChange(ctx, ext, rows, ev.Object); err != nil {
				if ctx.Err() != nil {
					return nil
				}
				return err
			}
		}
	}
}

func (o *GetOptions) printChange(ctx context.Context, ext extclient.Interface, rows printers.ResourcePrinter, obj runtime.Object) error {
	if !o.human {
		return rows.PrintObj(obj, o.Out)
	}
	one := o.kind.newList()
	if err := meta.SetList(one, []runtime.Object{obj}); err != nil {
		return err
	}
	table, err := o.table(ctx, ext, one)
	if err != nil {
		return err
	}
	return rows.PrintObj(table, o.Out)
}
