// Package sandboxd is the data plane of sandboxes whose pod runs sandboxd,
// agent-sandbox's process and file daemon: gRPC process.v1.ProcessService
// for commands (streamed output, standard input, terminals, signals) and
// its REST file API. Both listen on the pod's loopback only; the caller
// reaches them through a port-forward (see Dial).
package sandboxd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"google.golang.org/grpc"
	processv1 "sigs.k8s.io/agent-sandbox/packages/sandboxd/spec/process/v1"

	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/sandbox"
)

// Default ports of sandboxd's listeners (its --grpc-port and --rest-port).
const (
	DefaultGRPCPort = 9090
	DefaultRESTPort = 8080
)

// Root is sandboxd's default --root-dir: runtime paths are relative to it,
// and commands run in it.
const Root = "/workspace"

// Client talks to one sandboxd. It implements sandbox.Runtime and
// sandbox.Streamer.
type Client struct {
	proc processv1.ProcessServiceClient
	rest *url.URL
	http *http.Client
	// name says which sandbox, in errors.
	name string
}

var (
	_ sandbox.Runtime  = (*Client)(nil)
	_ sandbox.Streamer = (*Client)(nil)
)

// New returns a client of the ProcessService on conn and of the file API
// at rest (http://HOST:PORT). name names the sandbox in errors.
func New(conn grpc.ClientConnInterface, rest *url.URL, httpClient *http.Client, name string) *Client {
	return &Client{proc: processv1.NewProcessServiceClient(conn), rest: rest, http: httpClient, name: name}
}

// NotReadyError is a sandboxd that does not answer its health check.
type NotReadyError struct {
	Sandbox string
	Err     error
}

func (e *NotReadyError) Error() string {
	return fmt.Sprintf("sandboxd in sandbox %s is not ready: %v", e.Sandbox, e.Err)
}

func (e *NotReadyError) Unwrap() error { return e.Err }

// Health checks that sandboxd answers /v1/health with 200.
func (c *Client) Health(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	resp, err := c.do(ctx, http.MethodGet, "/v1/health", "", nil, "health")
	if err != nil {
		return &NotReadyError{Sandbox: c.name, Err: err}
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	return resp.Body.Close()
}

// do sends a request to the REST API and returns a 2xx answer; any other
// is a *sandbox.HTTPError.
func (c *Client) do(ctx context.Context, method, path, rawQuery string, body io.Reader, op string) (*http.Response, error) {
	u := *c.rest
	u.Path, u.RawPath, u.RawQuery = path, "", rawQuery
	return c.doURL(ctx, method, &u, body, op)
}

func (c *Client) doURL(ctx context.Context, method string, u *url.URL, body io.Reader, op string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, u.String(), body)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/octet-stream")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, errors.Unwrap(err))
	}
	if resp.StatusCode/100 == 2 {
		return resp, nil
	}
	defer discard(resp)
	apiErr := &sandbox.HTTPError{Op: op, Status: resp.StatusCode, Sandbox: c.name, Server: "sandboxd", FromRuntime: true}
	var answer struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	}
	if json.NewDecoder(io.LimitReader(resp.Body, 4096)).Decode(&answer) == nil {
		apiErr.Code, apiErr.Detail = answer.Code, answer.Message
	}
	return nil, apiErr
}
