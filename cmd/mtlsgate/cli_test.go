package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/mtlsgate/mtlsgate/internal/version"
)

// every command and server, as a user types it before -h.
var helpable = [][]string{
	{}, {"pki"}, {"serve"}, {"serve", "upstream"}, {"serve", "kong"}, {"serve", "alb"}, {"serve", "apigw"},
	{"report"}, {"bench"}, {"bench", "dial-loop"}, {"load"}, {"version"},
}

// Asking for help is never an error (the process exits 0), whichever spelling.
func TestHelpSucceeds(t *testing.T) {
	for _, cmd := range helpable {
		for _, h := range []string{"-h", "--help", "-help"} {
			var out, errOut bytes.Buffer
			args := append(append([]string{}, cmd...), h)
			if len(cmd) == 1 && cmd[0] == "version" {
				continue // version takes no flags; it just prints the version
			}
			err := run(context.Background(), args, &out, &errOut)
			if err != nil {
				t.Errorf("mtlsgate %s: %v", strings.Join(args, " "), err)
			}
			if out.Len()+errOut.Len() == 0 {
				t.Errorf("mtlsgate %s printed nothing", strings.Join(args, " "))
			}
			if strings.Contains(out.String()+errOut.String(), "unknown") {
				t.Errorf("mtlsgate %s: %s%s", strings.Join(args, " "), out.String(), errOut.String())
			}
		}
	}
	var out bytes.Buffer
	if err := run(context.Background(), []string{"serve", "--help"}, &out, &out); err != nil || !strings.Contains(out.String(), "mtlsgate serve <server>") {
		t.Errorf("serve --help: %v\n%s", err, out.String())
	}
}

func TestVersion(t *testing.T) {
	for _, args := range [][]string{{"--version"}, {"-version"}, {"version"}} {
		var out bytes.Buffer
		if err := run(context.Background(), args, &out, &out); err != nil || out.String() != "mtlsgate "+version.Version+"\n" {
			t.Errorf("%v: %v %q", args, err, out.String())
		}
	}
}

// flagLine is a flag's first line in Go's usage output: "  -name placeholder".
var flagLine = regexp.MustCompile(`(?m)^  -(\S+) (.+)$`)

// Go's flag package takes a back-quoted word in a usage string as the value's placeholder: each
// placeholder must be one word, not a command or a sentence.
func TestFlagPlaceholdersAreWords(t *testing.T) {
	for _, cmd := range helpable {
		if len(cmd) == 0 || (len(cmd) == 1 && (cmd[0] == "serve" || cmd[0] == "version")) {
			continue
		}
		var out bytes.Buffer
		_ = run(context.Background(), append(append([]string{}, cmd...), "-h"), &out, &out)
		lines := flagLine.FindAllStringSubmatch(out.String(), -1)
		if len(lines) == 0 {
			t.Errorf("mtlsgate %s -h lists no flags:\n%s", strings.Join(cmd, " "), out.String())
		}
		for _, m := range lines {
			if strings.ContainsAny(m[2], " `") {
				t.Errorf("mtlsgate %s: -%s has the placeholder %q", strings.Join(cmd, " "), m[1], m[2])
			}
		}
	}
}

// report --profiles defaults to the profiles make conformance runs.
func TestReportProfilesDefaultMatchesMakefile(t *testing.T) {
	mk, err := os.ReadFile(filepath.Join("..", "..", "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^PROFILES\s*\?=\s*(\S+)`).FindSubmatch(mk)
	if m == nil {
		t.Fatal("the Makefile sets no PROFILES default")
	}
	var out bytes.Buffer
	_ = run(context.Background(), []string{"report", "-h"}, &out, &out)
	if !strings.Contains(out.String(), `(default "`+string(m[1])+`")`) {
		t.Errorf("report --profiles does not default to the Makefile's %q:\n%s", m[1], out.String())
	}
}

func TestReportRefusesUnknownSelection(t *testing.T) {
	for args, want := range map[string]string{"--profiles=kong,nginx": `unknown profile "nginx"`, "--ids=K-MTLS-99": `unknown SPEC ID "K-MTLS-99"`} {
		var out bytes.Buffer
		err := run(context.Background(), []string{"report", args}, &out, &out)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("report %s: %v, want %q", args, err, want)
		}
	}
}
