package cmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/client"
	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/progress"
	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/router"
	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/sandbox"
)

// CpOptions copies files and directory trees to and from a sandbox.
type CpOptions struct {
	Router RouterFlags

	claim         string
	remote, local string // remote is a runtime path; local may be "-"
	upload        bool
	namespace     string
	router        router.Options

	Clients client.Factory
	genericiooptions.IOStreams
}

// NewCmdCp returns `kubectl sandbox cp`.
func NewCmdCp(f client.Factory, streams genericiooptions.IOStreams) *cobra.Command {
	o := &CpOptions{Clients: f, IOStreams: streams}
	cmd := &cobra.Command{
		Use:   "cp SRC DST",
		Short: "Copy files and directories to and from a sandbox",
		Long: `Copy a file or a whole directory tree between this machine and a sandbox.
One side is CLAIM:PATH. Sandbox paths are relative to /app (where commands
run); absolute ones must be under /app. "-" is stdin or stdout. Transfers
stream: memory stays flat whatever the size.`,
		Example: `  # Upload a file (remote parent directories are created)
  kubectl sandbox cp data.csv my-sandbox:input/data.csv

  # Download a directory tree
  kubectl sandbox cp my-sandbox:results ./results

  # Stream through stdin and stdout
  tar cz src | kubectl sandbox cp - my-sandbox:src.tgz
  kubectl sandbox cp my-sandbox:out.json - | jq .`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.Complete(args); err != nil {
				return err
			}
			return o.Run(cmd.Context())
		},
	}
	o.Router.AddFlags(cmd)
	return cmd
}

var remoteSpec = regexp.MustCompile(`^([a-z0-9]([-a-z0-9.]*[a-z0-9])?):(.*)$`)

// parseSpec splits CLAIM:PATH; a local path that exists, or starts with
// "/" or ".", is never taken for a claim.
func parseSpec(s string) (claim, p string, remote bool) {
	if s == "-" || strings.HasPrefix(s, "/") || strings.HasPrefix(s, ".") {
		return "", s, false
	}
	m := remoteSpec.FindStringSubmatch(s)
	if m == nil {
		return "", s, false
	}
	if _, err := os.Lstat(s); err == nil {
		return "", s, false
	}
	return m[1], m[3], true
}

// Complete works out the direction and validates both sides.
func (o *CpOptions) Complete(args []string) error {
	srcClaim, src, srcRemote := parseSpec(args[0])
	dstClaim, dst, dstRemote := parseSpec(args[1])
	switch {
	case srcRemote == dstRemote:
		return errors.New("exactly one of SRC and DST must be CLAIM:PATH (prefix a local path that contains ':' with ./)")
	case dstRemote:
		o.claim, o.local, o.upload = dstClaim, src, true
		o.remote = dst
	default:
		o.claim, o.local, o.remote = srcClaim, dst, src
	}
	if err := validateName("claim", o.claim); err != nil {
		return err
	}
	if _, err := sandbox.RemotePath(o.remote); err != nil {
		return err
	}
	var err error
	if o.router, err = o.Router.ToOptions(); err != nil {
		return err
	}
	o.namespace, err = o.Clients.Namespace()
	return err
}

// Run performs the copy.
func (o *CpOptions) Run(ctx context.Context) error {
	c, closeRouter, err := openClaim(ctx, o.Clients, o.router, o.Router.ServerPort, o.namespace, o.claim)
	if err != nil {
		return err
	}
	defer closeRouter()
	spin := progress.Start(o.ErrOut, "copying")
	defer spin.Stop()
	if o.upload {
		return o.runUpload(ctx, c, spin)
	}
	return o.runDownload(ctx, c, spin)
}

func (o *CpOptions) runUpload(ctx context.Context, c *sandbox.Client, spin *progress.Spinner) error {
	dirTarget := strings.HasSuffix(o.remote, "/") || o.remote == ""
	remote, _ := sandbox.RemotePath(o.remote)
	if o.local == "-" {
		if dirTarget {
			return errors.New("copying from stdin needs a file name in the sandbox, not a directory")
		}
		if dir := path.Dir(remote); dir != "." {
			if err := c.MkdirAll(ctx, dir); err != nil {
				return err
			}
		}
		return c.Upload(ctx, remote, spin.CountingReader(remote, o.In))
	}
	info, err := os.Stat(o.local)
	if err != nil {
		return fmt.Errorf("cannot read %s: %w", o.local, errors.Unwrap(err))
	}
	if !info.IsDir() && !dirTarget {
		// An existing remote directory receives the file under its own name.
		if _, err := c.List(ctx, remote); err == nil {
			dirTarget = true
		}
	}
	if !info.IsDir() && dirTarget {
		remote = path.Join(remote, filepath.Base(o.local))
	}
	_, err = c.UploadTree(ctx, o.local, remote, spin.CountingReader)
	return err
}

func (o *CpOptions) runDownload(ctx context.Context, c *sandbox.Client, spin *progress.Spinner) error {
	remote, _ := sandbox.RemotePath(o.remote)
	if o.local == "-" {
		body, _, err := c.Download(ctx, remote)
		if err != nil {
			return err
		}
		defer body.Close()
		_, err = io.Copy(o.Out, spin.CountingReader(remote, body))
		return err
	}
	// A file lands in an existing directory under its own name; a
	// directory's contents go into the destination.
	fileDst := o.local
	if info, err := os.Stat(o.local); err == nil && info.IsDir() && remote != "" {
		fileDst = filepath.Join(o.local, path.Base(remote))
	}
	_, err := c.DownloadTree(ctx, remote, fileDst, o.local, spin.CountingReader)
	return err
}
