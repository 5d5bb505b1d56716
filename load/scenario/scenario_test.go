package scenario

import (
	"context"
	"strings"
	"testing"

	"github.com/mtlsgate/mtlsgate/fixtures"
)

func TestParseWeights(t *testing.T) {
	w, err := ParseWeights("valid=70, missing=0")
	if err != nil || w[Valid] != 70 || w[Missing] != 0 || len(w) != 2 {
		t.Fatalf("weights %v, %v", w, err)
	}
	for in, want := range map[string]string{"valdi=1": `unknown class "valdi"`, "valid": "class=weight", "valid=-1": "whole number"} {
		if _, err := ParseWeights(in); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: error %v, want %q", in, err, want)
		}
	}
}

func TestPopulationsFromADirectory(t *testing.T) {
	p, err := fixtures.Generate(context.Background(), fixtures.Options{})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := p.WriteDir(dir); err != nil {
		t.Fatal(err)
	}
	kong, err := Population(ProfileKong, nil, FromDir(dir))
	if err != nil {
		t.Fatal(err)
	}
	alb, err := Population(ProfileALB, nil, FromDir(dir))
	if err != nil {
		t.Fatal(err)
	}
	if len(kong) != 7 || len(alb) != 7 {
		t.Fatalf("default populations: %d kong classes, %d alb classes", len(kong), len(alb))
	}
	for i, c := range alb {
		k := kong[i]
		if c.Name != k.Name || (c.Certificate == nil) != (c.Name == Missing) {
			t.Errorf("class %s: certificate %v", c.Name, c.Certificate != nil)
		}
		switch c.Name {
		case Valid:
			if k.Expect.Status != 200 || c.Expect.Status != 200 {
				t.Errorf("valid: %v / %v", k.Expect, c.Expect)
			}
		case TLS12:
			if k.Expect.Status != 200 || !c.Expect.HandshakeFailure || c.MaxVersion == 0 {
				t.Errorf("tls12: kong %v, alb %v", k.Expect, c.Expect)
			}
		default:
			if k.Expect.Status != 401 || !c.Expect.HandshakeFailure {
				t.Errorf("%s: kong %v, alb %v", c.Name, k.Expect, c.Expect)
			}
		}
	}
	if _, err := Population(ProfileKong, map[string]int{RevokedMidRun: 1}, FromDir(dir)); err == nil || !strings.Contains(err.Error(), "give the class weight 0") {
		t.Errorf("a missing identity file: %v", err)
	}
	if _, err := Population("nginx", nil, FromDir(dir)); err == nil {
		t.Error("unknown profile accepted")
	}
}
