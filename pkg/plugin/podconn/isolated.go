package podconn

import (
	"context"
	"fmt"
	"strings"
	"sync"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/klog/v2"

	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/kube"
)

// isolating are words in the names of the RuntimeClasses and handlers of
// runtimes that run a pod in a kernel of its own: gVisor's runsc (GKE
// Sandbox names its class and handler gvisor), and Kata Containers'
// kata-* handlers.
var isolating = []string{"gvisor", "runsc", "kata"}

// Classes tells which RuntimeClasses isolate their pods' network from the
// kubelet's port-forward; it reads each class once. It is safe for
// concurrent use.
type Classes struct {
	clients *kube.Clients
	mu      sync.Mutex
	seen    map[string]string
}

// NewClasses returns a Classes that reads RuntimeClasses with clients
// (clients.Node nil: by their names alone).
func NewClasses(clients *kube.Clients) *Classes {
	return &Classes{clients: clients, seen: map[string]string{}}
}

// Isolated says why a pod of RuntimeClass name (nil: the node's default
// runtime) runs in a kernel of its own, where a port-forward does not reach
// its listeners ("RuntimeClass gvisor (handler runsc)"); "" when nothing
// says so. The class's handler decides; when the class cannot be read
// (RBAC often refuses RuntimeClasses to users), its name does.
func (c *Classes) Isolated(ctx context.Context, name *string) string {
	if name == nil || *name == "" {
		return ""
	}
	c.mu.Lock()
	why, ok := c.seen[*name]
	c.mu.Unlock()
	if ok {
		return why
	}
	why = c.read(ctx, *name)
	c.mu.Lock()
	c.seen[*name] = why
	c.mu.Unlock()
	return why
}

func (c *Classes) read(ctx context.Context, name string) string {
	if c.clients != nil && c.clients.Node != nil {
		rc, err := c.clients.Node.RuntimeClasses().Get(ctx, name, metav1.GetOptions{})
		if err == nil {
			if namesIsolation(rc.Handler) || namesIsolation(name) {
				return fmt.Sprintf("RuntimeClass %s (handler %s)", name, rc.Handler)
			}
			return ""
		}
		klog.V(4).InfoS("cannot read the RuntimeClass: judging by its name", "runtimeClass", name, "err", err)
	}
	if namesIsolation(name) {
		return "RuntimeClass " + name
	}
	return ""
}

// namesIsolation says whether a class or handler name names an isolating
// runtime.
func namesIsolation(name string) bool {
	name = strings.ToLower(name)
	for _, w := range isolating {
		if strings.Contains(name, w) {
			return true
		}
	}
	return false
}
