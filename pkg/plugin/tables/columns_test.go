package tables

import (
	"bytes"
	"reflect"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"

	extv1beta1 "sigs.k8s.io/agent-sandbox/extensions/api/v1beta1"
)

func errorString(err error) string {
	if err == nil {
		return "<nil>"
	}
	return err.Error()
}

func TestNewCustomColumns(t *testing.T) {
	tests := []struct {
		spec    string
		headers []string
		err     string
	}{
		{spec: "NAME:.metadata.name", headers: []string{"NAME"}},
		{spec: "NAME:.metadata.name,POOL:{.spec.warmPoolRef.name},TYPES:.status.conditions[*].type", headers: []string{"NAME", "POOL", "TYPES"}},
		{spec: "", err: "custom-columns format specified but no custom columns given"},
		{spec: "NAME", err: "unexpected custom-columns spec: NAME, expected <header>:<json-path-expr>"},
		{spec: "NAME:.metadata.name,:.spec", err: "unexpected custom-columns spec: :.spec, expected <header>:<json-path-expr>"},
		{spec: "NAME:", err: "unexpected custom-columns spec: NAME:, expected <header>:<json-path-expr>"},
		{spec: "NAME:.metadata.name[", err: `invalid field spec "{.metadata.name[}": unterminated array`},
	}
	for _, tt := range tests {
		t.Run(tt.spec, func(t *testing.T) {
			c, err := NewCustomColumns(tt.spec)
			if got := errorString(err); got != cmpOr(tt.err, "<nil>") {
				t.Fatalf("error %s, want %s", got, cmpOr(tt.err, "<nil>"))
			}
			if err == nil && !reflect.DeepEqual(c.headers, tt.headers) {
				t.Errorf("headers %v, want %v", c.headers, tt.headers)
			}
		})
	}
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func claimList() *extv1beta1.SandboxClaimList {
	return &extv1beta1.SandboxClaimList{Items: []extv1beta1.SandboxClaim{
		*newClaim("c1", "python", readyAs("True", "DependenciesReady"), boundTo("python-abcde")),
		*newClaim("long-claim-name", "go"),
	}}
}

func TestCustomColumnsPrintObj(t *testing.T) {
	conds := newClaim("c3", "python", func(c *extv1beta1.SandboxClaim) {
		c.Status.Conditions = []metav1.Condition{{Type: "Ready", Status: "True"}, {Type: "Paused", Status: "False"}}
	})
	tests := []struct {
		name      string
		spec      string
		obj       runtime.Object
		noHeaders bool
		want      string
	}{
		{"a list", "NAME:.metadata.name,POOL:.spec.warmPoolRef.name,SANDBOX:{.status.sandbox.name}", claimList(), false,
			"NAME              POOL     SANDBOX\n" +
				"c1                python   python-abcde\n" +
				"long-claim-name   go       <none>\n"},
		{"a list without headers", "NAME:.metadata.name,SANDBOX:.status.sandbox.name", claimList(), true,
			"c1                python-abcde\n" +
				"long-claim-name   <none>\n"},
		{"one object, many values", "NAME:.metadata.name,TYPES:.status.conditions[*].type", conds, false,
			"NAME   TYPES\n" +
				"c3     Ready,Paused\n"},
		{"an empty list", "NAME:.metadata.name", &extv1beta1.SandboxClaimList{}, false, "NAME\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := NewCustomColumns(tt.spec)
			if err != nil {
				t.Fatal(err)
			}
			c.NoHeaders = tt.noHeaders
			var out bytes.Buffer
			if err := c.PrintObj(tt.obj, &out); err != nil {
				t.Fatal(err)
			}
			if out.String() != tt.want {
				t.Errorf("got\n%s\nwant\n%s", out.String(), tt.want)
			}
		})
	}
}

func TestCustomColumnsPrintObjErrors(t *testing.T) {
	c, err := NewCustomColumns("NAME:.metadata.name[0]")
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := c.PrintObj(claimList(), &out); errorString(err) != "string is not array or slice" {
		t.Errorf("error %v", err)
	}
	if err := c.PrintObj(undecodable(), &out); err == nil {
		t.Error("a list whose items cannot be decoded printed")
	}
	if err := c.PrintObj(&stringList{Items: []string{"x"}}, &out); !strings.HasSuffix(errorString(err), `: item[0]: Expected object, got "x"(string)`) {
		t.Errorf("error %v", err)
	}
}

// undecodable is a list whose item cannot be turned into fields.
func undecodable() *metav1.List {
	return &metav1.List{Items: []runtime.RawExtension{{Raw: []byte("not json")}}}
}

// stringList is a list type whose items are not objects.
type stringList struct {
	metav1.TypeMeta
	metav1.ListMeta
	Items []string
}

func (l *stringList) DeepCopyObject() runtime.Object {
	c := *l
	c.Items = append([]string(nil), l.Items...)
	return &c
}

func names(l *extv1beta1.SandboxClaimList) []string {
	var n []string
	for _, c := range l.Items {
		n = append(n, c.Name)
	}
	return n
}

func TestSortList(t *testing.T) {
	list := func() *extv1beta1.SandboxClaimList {
		return &extv1beta1.SandboxClaimList{Items: []extv1beta1.SandboxClaim{
			*newClaim("b", "python", created(ago(time.Minute)), boundTo("sb-9")),
			*newClaim("c", "go", created(ago(time.Hour))),
			*newClaim("a", "python", created(ago(time.Second)), boundTo("sb-10")),
			*newClaim("d", "alpha", created(ago(time.Minute)), boundTo("sb-1")),
		}}
	}
	tests := []struct {
		field string
		want  []string
		err   string
	}{
		{field: ".metadata.name", want: []string{"a", "b", "c", "d"}},
		{field: "{.metadata.name}", want: []string{"a", "b", "c", "d"}},
		{field: ".spec.warmPoolRef.name", want: []string{"d", "c", "b", "a"}}, // stable: b before a
		{field: ".metadata.creationTimestamp", want: []string{"c", "b", "d", "a"}},
		{field: ".status.sandbox.name", want: []string{"c", "d", "a", "b"}}, // missing first, then as text
		{field: ".spec.nothing", err: `couldn't find any field with path ".spec.nothing" in the list of objects`},
		{field: ".metadata.name[", err: `invalid field spec "{.metadata.name[}": unterminated array`},
	}
	for _, tt := range tests {
		t.Run(tt.field, func(t *testing.T) {
			l := list()
			err := SortList(l, tt.field)
			if errorString(err) != cmpOr(tt.err, "<nil>") {
				t.Fatalf("error %v, want %s", err, tt.err)
			}
			if err == nil && !reflect.DeepEqual(names(l), tt.want) {
				t.Errorf("order %v, want %v", names(l), tt.want)
			}
		})
	}
	t.Run("not a list", func(t *testing.T) {
		if err := SortList(newClaim("a", "p"), ".metadata.name"); err == nil {
			t.Error("sorted a claim")
		}
	})
	t.Run("items that cannot be turned into fields", func(t *testing.T) {
		if err := SortList(undecodable(), ".metadata.name"); err == nil {
			t.Error("sorted them")
		}
	})
	t.Run("an empty list", func(t *testing.T) {
		if err := SortList(&extv1beta1.SandboxClaimList{}, ".spec.nothing"); err != nil {
			t.Errorf("error %v", err)
		}
	})
}

// TestSortListNumbers: numbers sort by value, not as text (9 < 10 < 100),
// whether the object is typed or unstructured.
func TestSortListNumbers(t *testing.T) {
	pools := &extv1beta1.SandboxWarmPoolList{Items: []extv1beta1.SandboxWarmPool{
		*pool("ten", "t", 10, 10), *pool("nine", "t", 9, 9), *pool("hundred", "t", 100, 100), *pool("none", "t", 0, 0)}}
	if err := SortList(pools, ".status.readyReplicas"); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range pools.Items {
		got = append(got, p.Name)
	}
	if want := []string{"none", "nine", "ten", "hundred"}; !reflect.DeepEqual(got, want) {
		t.Errorf("integers: %v, want %v", got, want)
	}

	u := func(name string, v any) unstructured.Unstructured {
		return unstructured.Unstructured{Object: map[string]any{"metadata": map[string]any{"name": name}, "spec": map[string]any{"weight": v}}}
	}
	floats := &unstructured.UnstructuredList{Items: []unstructured.Unstructured{u("ten", 10.5), u("nine", 9.25), u("hundred", 100.0)}}
	if err := SortList(floats, ".spec.weight"); err != nil {
		t.Fatal(err)
	}
	got = nil
	for _, i := range floats.Items {
		got = append(got, i.GetName())
	}
	if want := []string{"nine", "ten", "hundred"}; !reflect.DeepEqual(got, want) {
		t.Errorf("floats: %v, want %v", got, want)
	}
}

func TestSortRows(t *testing.T) {
	table := Claims(claimList().Items, nil, now)
	table.Rows = append(table.Rows, ClaimRow(newClaim("b", "alpha"), nil, now))
	if err := SortRows(table, ".spec.warmPoolRef.name"); err != nil {
		t.Fatal(err)
	}
	var got []any
	for _, r := range table.Rows {
		got = append(got, r.Cells[0])
	}
	if want := []any{"b", "long-claim-name", "c1"}; !reflect.DeepEqual(got, want) {
		t.Errorf("rows %v, want %v", got, want)
	}
	if err := SortRows(table, ".spec.nothing"); errorString(err) != `couldn't find any field with path ".spec.nothing" in the list of objects` {
		t.Errorf("error %v", err)
	}
}
