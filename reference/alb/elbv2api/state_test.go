package elbv2api

import (
	"os"
	"path/filepath"
	"testing"
)

// TestACrashMidWriteLosesNothingAcknowledged: a save is acknowledged once the rename is done; a
// crash before it leaves a temporary file that loading ignores, and the last acknowledged state.
func TestACrashMidWriteLosesNothingAcknowledged(t *testing.T) {
	dir := t.TempDir()
	s := &store{dir: dir, persist: true}
	m := newModel()
	m.Seq = 7
	m.Buckets["pki"] = &bucket{Name: "pki", Objects: map[string]*object{}}
	if err := s.save(m); err != nil {
		t.Fatal(err)
	}
	// What a crash between write and rename leaves behind: a half-written temporary file.
	if err := os.WriteFile(filepath.Join(dir, ".tmp-123"), []byte(`{"seq": 8, "buck`), 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := s.load()
	if err != nil {
		t.Fatalf("load after a crash mid-write: %v", err)
	}
	if got.Seq != 7 || got.Buckets["pki"] == nil {
		t.Fatalf("loaded %+v, want the acknowledged state (seq 7, bucket pki)", got)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Name() != stateFile && e.Name() != ".tmp-123" {
			t.Errorf("save left %s behind", e.Name())
		}
	}
}

// TestACorruptStateFileIsAnErrorNotAnEmptyStart: a state file that does not parse stops the
// start with its path, rather than silently starting empty and forgetting every resource.
func TestACorruptStateFileIsAnErrorNotAnEmptyStart(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, stateFile), []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := (&store{dir: dir, persist: true}).load(); err == nil {
		t.Fatal("a corrupt state file loaded")
	}
}
