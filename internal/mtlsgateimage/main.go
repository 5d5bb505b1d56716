// Command mtlsgateimage builds the FROM-scratch mtlsgate image of this checkout (or finds it on
// the engine, as its tag is the content hash) and prints its reference. `make conformance` runs it
// once for a container target and hands the reference to every suite and Ginkgo process as
// MTLSGATE_IMAGE, instead of each of them building the image itself.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"

	"github.com/mtlsgate/mtlsgate/harness/containers"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "mtlsgateimage:", err)
		os.Exit(1)
	}
}

// run builds (or finds) the image and writes its reference to stdout.
func run(ctx context.Context, stdout io.Writer) error {
	e, err := containers.Connect(ctx)
	if err != nil {
		return err
	}
	defer e.Close()
	ref, err := containers.BuildImage(ctx, e)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(stdout, ref)
	return err
}
