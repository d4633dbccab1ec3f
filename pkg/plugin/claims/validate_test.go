package claims

import (
	"errors"
	"testing"
	"time"

	extv1beta1 "sigs.k8s.io/agent-sandbox/extensions/api/v1beta1"
)

// TestSpecValidate: what the API would refuse, and what makes no sense,
// is refused before any API call, each with its typed error.
func TestSpecValidate(t *testing.T) {
	ok := Spec{Namespace: "default", Name: "c", Pool: "python", Labels: map[string]string{"team": "a"}, TTL: time.Hour,
		ShutdownPolicy: extv1beta1.ShutdownPolicyRetain, Env: []extv1beta1.EnvVar{{Name: "MODE", Value: "x y"}}}
	if err := ok.Validate(); err != nil {
		t.Fatalf("a valid spec: %v", err)
	}
	if err := (Spec{Template: "python"}).Validate(); err != nil {
		t.Errorf("a template alone: %v", err)
	}
	for _, tc := range []struct {
		name   string
		change func(*Spec)
		want   string
	}{
		{"no pool or template", func(s *Spec) { s.Pool = "" }, "give exactly one of pool and template"},
		{"both", func(s *Spec) { s.Template = "python" }, "give exactly one of pool and template"},
		{"claim name", func(s *Spec) { s.Name = "C" }, `invalid claim name "C": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')`},
		{"pool name", func(s *Spec) { s.Pool = "a_b" }, `invalid pool name "a_b": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')`},
		{"template name", func(s *Spec) { s.Pool, s.Template = "", "-x" }, `invalid template name "-x": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')`},
		{"label key", func(s *Spec) { s.Labels = map[string]string{"z": "ok", "bad key": "x"} }, `invalid label key "bad key": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')`},
		{"label value", func(s *Spec) { s.Labels = map[string]string{"a": "-x"} }, `invalid label value "-x": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')`},
		{"environment variable", func(s *Spec) { s.Env = []extv1beta1.EnvVar{{Name: "1X"}} }, `invalid environment variable name "1X": a valid environment variable name must consist of alphabetic characters, digits, '_', '-', or '.', and must not start with a digit (e.g. 'my.env-name',  or 'MY_ENV.NAME',  or 'MyEnvName1', regex used for validation is '[-._a-zA-Z][-._a-zA-Z0-9]*')`},
		{"negative TTL", func(s *Spec) { s.TTL = -time.Minute }, `invalid TTL "-1m0s": it must not be negative`},
		{"a policy without a TTL", func(s *Spec) { s.TTL = 0 }, "a shutdown policy needs a TTL"},
		{"an unknown policy", func(s *Spec) { s.ShutdownPolicy = "Keep" }, `invalid shutdown policy "Keep": must be Delete, DeleteForeground or Retain`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := ok
			tc.change(&s)
			err := s.Validate()
			var ie *InvalidError
			typed := errors.As(err, &ie) || errors.Is(err, ErrPoolOrTemplate) || errors.Is(err, ErrPolicyWithoutTTL)
			if err == nil || err.Error() != tc.want || !typed {
				t.Errorf("error %v\nwant  %s", err, tc.want)
			}
		})
	}
}
