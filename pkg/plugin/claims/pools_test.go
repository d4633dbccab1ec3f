package claims

import (
	"cmp"
	"context"
	"errors"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/utils/ptr"

	"sigs.k8s.io/agent-sandbox/clients/k8s/extensions/clientset/versioned/fake"
	extv1beta1 "sigs.k8s.io/agent-sandbox/extensions/api/v1beta1"
)

func pool(name, template string, ready int32) *extv1beta1.SandboxWarmPool {
	return &extv1beta1.SandboxWarmPool{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
		Spec:       extv1beta1.SandboxWarmPoolSpec{TemplateRef: extv1beta1.SandboxTemplateRef{Name: template}, Replicas: ptr.To(ready)},
		Status:     extv1beta1.SandboxWarmPoolStatus{ReadyReplicas: ready},
	}
}

func template(name string) *extv1beta1.SandboxTemplate {
	return &extv1beta1.SandboxTemplate{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"}}
}

func TestPoolForTemplate(t *testing.T) {
	tests := []struct {
		name       string
		objs       []runtime.Object
		template   string
		want       string
		wantErr    string
		tplExists  bool // of the *NoPoolError
		wantNoPool bool
	}{
		{name: "most ready replicas", template: "python",
			objs: []runtime.Object{pool("a", "python", 1), pool("b", "python", 3), pool("c", "python", 2), pool("z", "go", 5)},
			want: "b"},
		{name: "a tie goes to the first name", template: "python",
			objs: []runtime.Object{pool("b", "python", 2), pool("a", "python", 2), pool("c", "python", 1), pool("z", "go", 5)},
			want: "a"},
		{name: "the only pool, even empty", template: "python",
			objs: []runtime.Object{pool("cold", "python", 0)}, want: "cold"},
		{name: "unknown template", template: "ruby",
			objs: []runtime.Object{pool("b", "python", 2), pool("z", "go", 5), template("python"), template("go")},
			// pools in the order the API gives them, templates sorted
			wantErr:    `no SandboxWarmPool in namespace "default" uses SandboxTemplate "ruby"; pools: z (template go), b (template python); templates: go, python`,
			wantNoPool: true},
		{name: "a template without a pool", template: "python",
			objs:       []runtime.Object{template("python")},
			wantErr:    `no SandboxWarmPool in namespace "default" uses SandboxTemplate "python"; pools: none; templates: python`,
			wantNoPool: true, tplExists: true},
		{name: "nothing at all", template: "python",
			wantErr:    `no SandboxWarmPool in namespace "default" uses SandboxTemplate "python"; pools: none; templates: none`,
			wantNoPool: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			client := fake.NewSimpleClientset(tt.objs...)
			reverseLists(client, "sandboxwarmpools") // the code must pick, not take the first
			reverseLists(client, "sandboxtemplates")
			got, err := PoolForTemplate(context.Background(), client, "default", tt.template)
			if got != tt.want || errorString(err) != cmp.Or(tt.wantErr, "<nil>") {
				t.Fatalf("got %q, %v\nwant %q, %s", got, err, tt.want, tt.wantErr)
			}
			var np *NoPoolError
			if errors.As(err, &np) != tt.wantNoPool {
				t.Fatalf("error %#v, want a *NoPoolError: %v", err, tt.wantNoPool)
			}
			if tt.wantNoPool && np.TemplateExists() != tt.tplExists {
				t.Errorf("TemplateExists = %v, want %v", np.TemplateExists(), tt.tplExists)
			}
		})
	}
}

func TestPoolForTemplateAPIErrors(t *testing.T) {
	forbidden := func(resource string) error {
		return apierrors.NewForbidden(schema.GroupResource{Group: claimsGR.Group, Resource: resource}, "", errors.New("no"))
	}
	tests := []struct {
		resource string
		want     string
	}{
		{"sandboxwarmpools", "listing sandboxwarmpools: sandboxwarmpools.extensions.agents.x-k8s.io is forbidden: no"},
		{"sandboxtemplates", "listing sandboxtemplates: sandboxtemplates.extensions.agents.x-k8s.io is forbidden: no"},
	}
	for _, tt := range tests {
		t.Run(tt.resource, func(t *testing.T) {
			client := fake.NewSimpleClientset(pool("a", "go", 1))
			failWith(client, "list", tt.resource, forbidden(tt.resource))
			_, err := PoolForTemplate(context.Background(), client, "default", "python")
			if !apierrors.IsForbidden(err) || err.Error() != tt.want {
				t.Fatalf("error %v, want %q", err, tt.want)
			}
		})
	}
}

func TestResolvePool(t *testing.T) {
	tests := []struct {
		name, pool, template string
		want, wantErr        string
	}{
		{name: "a pool wins over the template", pool: "mine", template: "python", want: "mine"},
		{name: "the template's pool", template: "python", want: "warm"},
		{name: "no pool for the template", template: "ruby",
			wantErr: `no SandboxWarmPool in namespace "default" uses SandboxTemplate "ruby"; pools: warm (template python); templates: none`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			client := fake.NewSimpleClientset(pool("warm", "python", 1))
			spec := Spec{Namespace: "default", Pool: tt.pool, Template: tt.template}
			err := ResolvePool(context.Background(), client, &spec)
			if spec.Pool != tt.want || errorString(err) != cmp.Or(tt.wantErr, "<nil>") {
				t.Fatalf("pool %q, error %v; want %q, %s", spec.Pool, err, tt.want, tt.wantErr)
			}
			if tt.pool != "" && len(client.Actions()) != 0 {
				t.Errorf("a given pool needs no API call: %v", client.Actions())
			}
		})
	}
}
