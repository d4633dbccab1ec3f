package claims

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"

	extv1beta1 "sigs.k8s.io/agent-sandbox/extensions/api/v1beta1"
)

// InvalidError is a value that the API would refuse: What names it ("pool
// name", "label key"), Why says why.
type InvalidError struct {
	What, Value, Why string
}

func (e *InvalidError) Error() string {
	return fmt.Sprintf("invalid %s %q: %s", e.What, e.Value, e.Why)
}

// ErrPoolOrTemplate is a spec with both or neither of a pool and a template.
var ErrPoolOrTemplate = errors.New("give exactly one of pool and template")

// ErrPolicyWithoutTTL is a shutdown policy without a TTL to apply at.
var ErrPolicyWithoutTTL = errors.New("a shutdown policy needs a TTL")

// ValidateName checks a claim, pool or template name (what) before any API
// call: a DNS-1123 subdomain.
func ValidateName(what, name string) error {
	return invalid(what+" name", name, validation.IsDNS1123Subdomain(name))
}

// ValidateLabel checks a label's key and value.
func ValidateLabel(key, value string) error {
	if err := invalid("label key", key, validation.IsQualifiedName(key)); err != nil {
		return err
	}
	return invalid("label value", value, validation.IsValidLabelValue(value))
}

func invalid(what, value string, errs []string) error {
	if len(errs) == 0 {
		return nil
	}
	return &InvalidError{What: what, Value: value, Why: strings.Join(errs, "; ")}
}

// Validate checks a spec before any API call: exactly one of a pool and a
// template, names, labels and environment variables that the API accepts,
// a TTL that is not negative and a shutdown policy it knows, with a TTL.
// The errors are an *InvalidError, ErrPoolOrTemplate or
// ErrPolicyWithoutTTL.
func (s Spec) Validate() error {
	if (s.Pool == "") == (s.Template == "") {
		return ErrPoolOrTemplate
	}
	for _, n := range [][2]string{{"claim", s.Name}, {"pool", s.Pool}, {"template", s.Template}} {
		if n[1] != "" {
			if err := ValidateName(n[0], n[1]); err != nil {
				return err
			}
		}
	}
	for _, k := range slices.Sorted(maps.Keys(s.Labels)) {
		if err := ValidateLabel(k, s.Labels[k]); err != nil {
			return err
		}
	}
	for _, e := range s.Env {
		if err := invalid("environment variable name", e.Name, validation.IsEnvVarName(e.Name)); err != nil {
			return err
		}
	}
	if s.TTL < 0 {
		return &InvalidError{What: "TTL", Value: s.TTL.String(), Why: "it must not be negative"}
	}
	switch s.ShutdownPolicy {
	case "":
	case extv1beta1.ShutdownPolicyDelete, extv1beta1.ShutdownPolicyDeleteForeground, extv1beta1.ShutdownPolicyRetain:
		if s.TTL == 0 {
			return ErrPolicyWithoutTTL
		}
	default:
		return &InvalidError{What: "shutdown policy", Value: string(s.ShutdownPolicy), Why: "must be Delete, DeleteForeground or Retain"}
	}
	return nil
}
