// Command imagebuild writes a container image as a docker-archive tarball
// (what `ctr images import` and `docker load` read) from layer tarballs and
// a few config fields, with no registry and no daemon. The same inputs give
// the same bytes: layers are compressed without timestamps and the config's
// creation time is fixed (SOURCE_DATE_EPOCH, default the Unix epoch).
//
//	imagebuild -o out.tar -name example.com/img:tag -layer base.tar -layer app.tar \
//	  -entrypoint /bin/app -arg --flag -user 1000 -workdir /app -env K=V
package main

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

type list []string

func (l *list) String() string     { return strings.Join(*l, ",") }
func (l *list) Set(v string) error { *l = append(*l, v); return nil }

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "imagebuild:", err)
		os.Exit(1)
	}
}

func run() error {
	var (
		out, ref, user, workdir string
		layers, entrypoint, cmd list
		env                     list
	)
	flag.StringVar(&out, "o", "", "output docker-archive tarball")
	flag.StringVar(&ref, "name", "", "image reference to tag the archive with")
	flag.Var(&layers, "layer", "an uncompressed layer tarball, bottom first (repeatable)")
	flag.Var(&entrypoint, "entrypoint", "an entrypoint word (repeatable)")
	flag.Var(&cmd, "arg", "a command word after the entrypoint (repeatable)")
	flag.Var(&env, "env", "KEY=VALUE (repeatable)")
	flag.StringVar(&user, "user", "", "the user to run as")
	flag.StringVar(&workdir, "workdir", "", "the working directory")
	flag.Parse()
	if out == "" || ref == "" || len(layers) == 0 {
		return fmt.Errorf("usage: imagebuild -o OUT -name REF -layer TAR... [-entrypoint W]... [-arg W]... [-env K=V]... [-user U] [-workdir D]")
	}
	tag, err := name.NewTag(ref)
	if err != nil {
		return err
	}
	created := time.Unix(0, 0).UTC()
	if s := os.Getenv("SOURCE_DATE_EPOCH"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return fmt.Errorf("SOURCE_DATE_EPOCH: %w", err)
		}
		created = time.Unix(n, 0).UTC()
	}
	img := empty.Image
	for _, path := range layers {
		l, err := tarball.LayerFromFile(path)
		if err != nil {
			return fmt.Errorf("layer %s: %w", path, err)
		}
		if img, err = mutate.Append(img, mutate.Addendum{Layer: l, History: v1.History{Created: v1.Time{Time: created}, CreatedBy: "imagebuild " + path[strings.LastIndex(path, "/")+1:]}}); err != nil {
			return err
		}
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", runtime.GOARCH
	cf.Created = v1.Time{Time: created}
	cf.Config.Entrypoint, cf.Config.Cmd = entrypoint, cmd
	cf.Config.Env = append([]string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}, env...)
	cf.Config.User, cf.Config.WorkingDir = user, workdir
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		return err
	}
	tmp := out + ".tmp"
	if err := tarball.WriteToFile(tmp, tag, img); err != nil {
		os.Remove(tmp)
		return err
	}
	return os.Rename(tmp, out)
}
