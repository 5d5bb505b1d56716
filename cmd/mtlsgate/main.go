// Command mtlsgate proves that an API gateway's mutual TLS behaves as Kong and ALB users expect:
// it generates test PKIs, runs reference gateways and mock upstreams, and writes conformance
// reports. Run "mtlsgate help" for the subcommands.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/mtlsgate/mtlsgate/internal/version"
)

// command is one subcommand: its name, a one-line summary and how to run it.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

// outDir is where every subcommand writes its reports by default: a directory of generated
// files only, apart from the source of the reports package, so `make clean` can remove it whole.
const outDir = "out"

func commands() []command {
	return []command{
		{"pki", "generate the test PKI (CAs, good and bad client certificates, CRLs) into a directory", runPKI},
		{"serve", "run a reference server: serve upstream | kong | alb | apigw", runServe},
		{"conformance", "run the compiled suites against a target and write the reports (no Go toolchain needed)", runConformance},
		{"report", "turn a Ginkgo JSON report into out/summary.md, junit.xml and conformance.yaml, with a console summary", runReport},
		{"bench", "measure the reference against nginx and HAProxy side by side; write out/bench.md", runBench},
		{"load", "attack a gateway with a population of TLS identities and gate on violations (out/load)", runLoad},
		{"version", "print the version (also mtlsgate --version)", func(_ context.Context, _ []string, stdout, _ io.Writer) error {
			return printVersion(stdout)
		}},
	}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		if !errors.As(err, new(explained)) {
			fmt.Fprintln(os.Stderr, "mtlsgate:", err)
		}
		os.Exit(1)
	}
}

// explained is a failure the command has already told the console about, last thing (a red
// conformance run lists its failed IDs): the process exits 1 without a line after them.
type explained struct{ error }

// run runs the command args name. Asking for help (-h, --help, help) is not an error: the
// usage goes out and run returns nil.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || isHelp(args[0]) {
		usage(stdout)
		return nil
	}
	if args[0] == "--version" || args[0] == "-version" {
		return printVersion(stdout)
	}
	for _, c := range commands() {
		if c.name == args[0] {
			err := c.run(ctx, args[1:], stdout, stderr)
			if errors.Is(err, flag.ErrHelp) {
				return nil
			}
			return err
		}
	}
	usage(stderr)
	return fmt.Errorf("unknown command %q", args[0])
}

// isHelp reports whether arg asks for help rather than naming something.
func isHelp(arg string) bool {
	return arg == "help" || arg == "-h" || arg == "-help" || arg == "--help"
}

func printVersion(w io.Writer) error {
	_, err := fmt.Fprintln(w, "mtlsgate", version.Version)
	return err
}

func usage(w io.Writer) {
	var b strings.Builder
	b.WriteString("usage: mtlsgate <command> [flags]\n\ncommands:\n")
	for _, c := range commands() {
		fmt.Fprintf(&b, "  %-12s %s\n", c.name, c.summary)
	}
	b.WriteString("\nRun \"mtlsgate <command> -h\" for a command's flags; \"mtlsgate --version\" prints the version.\n")
	_, _ = io.WriteString(w, b.String())
}

// newFlagSet returns a flag set that reports errors instead of exiting.
func newFlagSet(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("mtlsgate "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

func logger(w io.Writer, level string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level: %w (use debug, info, warn or error)", err)
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l})), nil
}
