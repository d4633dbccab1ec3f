package kube

import (
	"testing"

	"k8s.io/client-go/rest"
)

func TestNewClients(t *testing.T) {
	cfg := &rest.Config{Host: "https://127.0.0.1:6443"}
	c, err := NewClients(cfg)
	if err != nil || c.Config != cfg || c.Core == nil || c.Ext == nil || c.Agents == nil || c.Gateway == nil {
		t.Fatalf("%+v, %v", c, err)
	}
	// A config that no client can be made from fails.
	if _, err := NewClients(&rest.Config{Host: "https://x", ExecProvider: nil, AuthProvider: nil, TLSClientConfig: rest.TLSClientConfig{CAFile: "/nonexistent/ca"}}); err == nil {
		t.Error("a missing CA file must fail")
	}
}
