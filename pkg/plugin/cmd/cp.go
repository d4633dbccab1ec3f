package cmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/progress"
	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/sandbox"
	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/session"
)

// CpOptions copies files and directory trees to and from a sandbox.
type CpOptions struct {
	Connect ConnectFlags
	Method  string

	src, dst      string
	claim         string
	remote, local string // remote is as typed; local may be "-"
	upload        bool
	oneRemote     bool
	namespace     string
	session       session.Options

	Clients Factory
	genericiooptions.IOStreams
}

// NewCmdCp returns `kubectl sandbox cp`.
func NewCmdCp(f Factory, streams genericiooptions.IOStreams) *cobra.Command {
	o := &CpOptions{Clients: f, IOStreams: streams}
	cmd := &cobra.Command{
		Use:   "cp SRC DST",
		Short: "Copy files and directories to and from a sandbox",
		Long: `Copy a file or a whole directory tree between this machine and a sandbox.
One side is CLAIM:PATH. Sandbox paths are relative to the runtime's root
(where commands run: /app on the python runtime, /workspace on sandboxd);
absolute ones must be under it. "-" is stdin or stdout. Transfers stream:
memory stays flat whatever the size.

A directory tree travels as one tar archive, unpacked at the other end,
when the sandbox has tar (else file by file; --method chooses). A tree
downloaded into a new directory appears whole or not at all. Any file name
but NUL and "/" round-trips; a name a method cannot carry is refused before
anything is sent.`,
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
			if err := o.Validate(); err != nil {
				return err
			}
			return o.Run(cmd.Context())
		},
	}
	o.Connect.AddFlags(cmd)
	cmd.Flags().StringVar(&o.Method, "method", string(sandbox.MethodAuto), "How a directory tree travels: auto (tar archives when the sandbox has tar, else file by file), archive, or files (4 at a time)")
	return cmd
}

var remoteSpec = regexp.MustCompile(`^([a-z0-9]([-a-z0-9.]*[a-z0-9])?):(.*)$`)

// parseSpec splits CLAIM:PATH; a local path that exists, or starts with
// "/" or ".", is never taken for a claim, nor is what cannot be a claim's
// name.
func parseSpec(s string) (claim, p string, remote bool) {
	if s == "-" || strings.HasPrefix(s, "/") || strings.HasPrefix(s, ".") {
		return "", s, false
	}
	m := remoteSpec.FindStringSubmatch(s)
	if m == nil || len(validation.IsDNS1123Subdomain(m[1])) > 0 {
		return "", s, false
	}
	if _, err := os.Lstat(s); err == nil {
		return "", s, false
	}
	return m[1], m[3], true
}

// Complete takes the two sides and works out the direction, the router
// flags and the namespace.
func (o *CpOptions) Complete(args []string) error {
	o.src, o.dst = args[0], args[1]
	srcClaim, src, srcRemote := parseSpec(o.src)
	dstClaim, dst, dstRemote := parseSpec(o.dst)
	o.oneRemote = srcRemote != dstRemote
	if dstRemote {
		o.claim, o.local, o.remote, o.upload = dstClaim, src, dst, true
	} else {
		o.claim, o.local, o.remote = srcClaim, dst, src
	}
	var err error
	o.session, o.namespace, err = o.Connect.Complete(o.Clients)
	return err
}

// Validate checks both sides; it reads no file and makes no API call.
func (o *CpOptions) Validate() error {
	switch sandbox.Method(o.Method) {
	case sandbox.MethodAuto, sandbox.MethodArchive, sandbox.MethodFiles:
	default:
		return fmt.Errorf("invalid --method %q: use auto, archive or files", o.Method)
	}
	if !o.oneRemote {
		return errors.New("exactly one of SRC and DST must be CLAIM:PATH (prefix a local path that contains ':' with ./)")
	}
	if err := validateName("claim", o.claim); err != nil {
		return err
	}
	if _, err := session.RemotePath(o.remote); err != nil {
		return err
	}
	if o.upload && o.local == "-" && (o.remote == "" || strings.HasSuffix(o.remote, "/")) {
		return errors.New("copying from stdin needs a file name in the sandbox, not a directory")
	}
	return nil
}

// Run performs the copy.
func (o *CpOptions) Run(ctx context.Context) error {
	rt, closeSession, err := openRuntime(ctx, o.Clients, o.namespace, o.session, o.claim)
	if err != nil {
		return err
	}
	defer closeSession()
	spin := progress.Start(o.ErrOut, "copying")
	defer spin.Stop()
	remote, _ := session.RemotePath(o.remote)
	switch {
	case o.upload && o.local == "-":
		return sandbox.WriteFile(ctx, rt, remote, spin.CountingReader(remote, o.In))
	case o.upload:
		if strings.HasSuffix(o.remote, "/") && remote != "" {
			remote += "/" // a directory target
		}
		_, err = sandbox.CopyToBy(ctx, rt, o.local, remote, spin.CountingReader, sandbox.Method(o.Method))
	case o.local == "-":
		err = catFile(ctx, rt, remote, o.Out, spin.CountingReader)
	default:
		_, err = sandbox.CopyFromBy(ctx, rt, remote, o.local, spin.CountingReader, sandbox.Method(o.Method))
	}
	return err
}

// catFile streams a sandbox file to w.
func catFile(ctx context.Context, rt sandbox.Runtime, remote string, w io.Writer, progress sandbox.Progress) error {
	body, _, err := rt.Download(ctx, remote)
	if err != nil {
		return err
	}
	defer body.Close()
	_, err = io.Copy(w, progress.Wrap(remote, body))
	return err
}
