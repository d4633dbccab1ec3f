// Command gosdk runs one create -> run -> delete cycle with the upstream Go
// SDK (sigs.k8s.io/agent-sandbox/clients/go/sandbox v0.5.6), the baseline
// of `make bench`'s run-cycle row: gosdk POOL GATEWAY COMMAND.
package main

import (
	"context"
	"fmt"
	"os"

	"sigs.k8s.io/agent-sandbox/clients/go/sandbox"
)

func main() {
	if len(os.Args) != 4 {
		fmt.Fprintln(os.Stderr, "usage: gosdk POOL GATEWAY COMMAND")
		os.Exit(2)
	}
	ctx := context.Background()
	c, err := sandbox.NewClient(ctx, sandbox.Options{Namespace: "default", GatewayName: os.Args[2], GatewayNamespace: "default", Quiet: true})
	if err != nil {
		fail(err)
	}
	sb, err := c.CreateSandbox(ctx, os.Args[1], "default")
	if err != nil {
		fail(err)
	}
	res, err := sb.Run(ctx, os.Args[3])
	if cerr := sb.Close(ctx); err == nil {
		err = cerr
	}
	if err != nil {
		fail(err)
	}
	fmt.Print(res.Stdout)
	os.Exit(res.ExitCode)
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "gosdk:", err)
	os.Exit(1)
}
