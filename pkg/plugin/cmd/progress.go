package cmd

import (
	"fmt"
	"io"

	extv1beta1 "sigs.k8s.io/agent-sandbox/extensions/api/v1beta1"

	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/claims"
	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/progress"
)

// claimProgress shows, on a terminal only, the wait for a claim: a spinner
// with status and the Ready condition's latest reason.
type claimProgress struct {
	errOut io.Writer
	spin   *progress.Spinner
	status string
}

// start shows status.
func (p *claimProgress) start(status string) {
	p.status = status
	p.spin = progress.Start(p.errOut, status)
}

// observe shows c's latest Ready reason after the status.
func (p *claimProgress) observe(c *extv1beta1.SandboxClaim) {
	if cond := claims.ReadyCondition(c); cond != nil && cond.Reason != "" && p.spin != nil {
		p.spin.Set(fmt.Sprintf("%s: %s", p.status, cond.Reason))
	}
}

// hooks follow CreateAndWait; after calls onCreated, if any, first.
func (p *claimProgress) hooks(onCreated func(*extv1beta1.SandboxClaim)) claims.WaitHooks {
	return claims.WaitHooks{
		Created: func(c *extv1beta1.SandboxClaim) {
			if onCreated != nil {
				onCreated(c)
			}
			p.start("waiting for sandboxclaim/" + c.Name)
		},
		Observe: p.observe,
	}
}

// stop clears the spinner.
func (p *claimProgress) stop() {
	if p.spin != nil {
		p.spin.Stop()
	}
}
