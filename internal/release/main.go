// Command release builds what `make release` ships: for each platform a directory holding a static
// mtlsgate and the compiled conformance suites (suites/<profile>.test, Ginkgo's precompiled
// suites), and the FROM-scratch image holding the linux build for the engine's architecture. Run
// it from the module root: go run ./internal/release --out dist.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"

	"github.com/mtlsgate/mtlsgate/harness/containers"
	"github.com/mtlsgate/mtlsgate/internal/version"
)

// suitePackages are the Ginkgo suites a release carries; each compiles to suites/<name>.test.
var suitePackages = []string{"./suites/kong", "./suites/alb", "./suites/load"}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "release:", err)
			os.Exit(1)
		}
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("release", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("out", "dist", "the `directory` the release is written to (emptied first)")
	platforms := fs.String("platforms", "linux/amd64,linux/arm64,darwin/amd64,darwin/arm64", "the GOOS/GOARCH `list` to build for")
	image := fs.Bool("image", true, "also build the FROM-scratch image from the linux build for "+runtime.GOARCH+" (needs Docker)")
	repo := fs.String("repo", containers.ImageRepo, "the image's `repository`; it is tagged with the version and latest")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q (all options are flags)", fs.Arg(0))
	}
	var plats [][2]string
	for _, p := range strings.Split(*platforms, ",") {
		goos, goarch, ok := strings.Cut(strings.TrimSpace(p), "/")
		if !ok || goos == "" || goarch == "" {
			return fmt.Errorf("--platforms: %q is not GOOS/GOARCH (e.g. linux/amd64)", p)
		}
		plats = append(plats, [2]string{goos, goarch})
	}
	if err := os.RemoveAll(*out); err != nil {
		return fmt.Errorf("empty --out %s: %w", *out, err)
	}
	tools, err := os.MkdirTemp("", "mtlsgate-release-")
	if err != nil {
		return fmt.Errorf("build the ginkgo CLI: %w", err)
	}
	defer os.RemoveAll(tools)
	ginkgo, err := buildGinkgo(ctx, tools, stderr)
	if err != nil {
		return err
	}
	imageDir := ""
	for _, p := range plats {
		dir := filepath.Join(*out, "mtlsgate_"+p[0]+"_"+p[1])
		fmt.Fprintf(stdout, "building %s/%s into %s\n", p[0], p[1], dir)
		if err := buildPlatform(ctx, ginkgo, dir, p[0], p[1], stderr); err != nil {
			return err
		}
		if p[0] == "linux" && p[1] == runtime.GOARCH {
			imageDir = dir
		}
	}
	if !*image {
		return nil
	}
	if imageDir == "" {
		return fmt.Errorf("--image needs linux/%s among --platforms (or pass --image=false)", runtime.GOARCH)
	}
	e, err := containers.Connect(ctx)
	if err != nil {
		return fmt.Errorf("build the image: %w (or pass --image=false)", err)
	}
	defer e.Close()
	ref, err := containers.BuildReleaseImage(ctx, e, imageDir, *repo, version.Version, "latest")
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "image %s (also %s:latest) from %s\n", ref, *repo, imageDir)
	return nil
}

// buildGinkgo builds the ginkgo CLI pinned in go.mod for this machine into dir. `go tool ginkgo`
// would build it for the GOOS/GOARCH in its environment, which names the suites' platform.
func buildGinkgo(ctx context.Context, dir string, stderr io.Writer) (string, error) {
	bin := filepath.Join(dir, "ginkgo")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "github.com/onsi/ginkgo/v2/ginkgo")
	cmd.Stdout, cmd.Stderr = stderr, stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("build the ginkgo CLI pinned in go.mod: %w", err)
	}
	return bin, nil
}

// buildPlatform builds the static mtlsgate and, with the ginkgo CLI, the compiled suites for one
// platform into dir.
func buildPlatform(ctx context.Context, ginkgo, dir, goos, goarch string, stderr io.Writer) error {
	suites := filepath.Join(dir, "suites")
	if err := os.MkdirAll(suites, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", suites, err)
	}
	env := append(os.Environ(), "CGO_ENABLED=0", "GOOS="+goos, "GOARCH="+goarch)
	steps := [][]string{{"go", "build", "-trimpath", "-ldflags", "-s -w", "-o", filepath.Join(dir, "mtlsgate"), "./cmd/mtlsgate"}}
	// With an existing directory as -o, ginkgo build writes each suite as <dir>/<package>.test.
	for _, pkg := range suitePackages {
		steps = append(steps, []string{ginkgo, "build", "--trimpath", "--ldflags=-s -w", "-o", suites, pkg})
	}
	for _, s := range steps {
		cmd := exec.CommandContext(ctx, s[0], s[1:]...)
		cmd.Env = env
		cmd.Stdout, cmd.Stderr = stderr, stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("build for %s/%s: %s: %w", goos, goarch, strings.Join(s, " "), err)
		}
	}
	for _, pkg := range suitePackages {
		bin := filepath.Join(suites, filepath.Base(pkg)+".test")
		if _, err := os.Stat(bin); err != nil {
			return fmt.Errorf("build for %s/%s: ginkgo build left no %s: %w", goos, goarch, bin, err)
		}
	}
	return nil
}
