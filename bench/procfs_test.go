package bench

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

func TestParseStat(t *testing.T) {
	// A comm with spaces and parentheses, as nginx's "nginx: worker process" or a hostile name.
	text := "4242 (nginx: a (b) c) S 4241 4241 4241 0 -1 4194624 120 0 0 0 250 75 0 0 20 0 1 0 12345 1000 200 18446744073709551615\n"
	pid, ppid, cpu, err := parseStat(text)
	if err != nil {
		t.Fatal(err)
	}
	if pid != 4242 || ppid != 4241 {
		t.Errorf("pid, ppid = %d, %d; want 4242, 4241", pid, ppid)
	}
	if want := 3250 * time.Millisecond; cpu != want { // (250+75) ticks at 100 Hz
		t.Errorf("cpu = %s, want %s", cpu, want)
	}
}

func TestParseStatErrors(t *testing.T) {
	for _, text := range []string{"", "12 no-parens S 1", "x (a) S 1 1 1 0 -1 0 0 0 0 0 1 1", "12 (a) S 1 2"} {
		if _, _, _, err := parseStat(text); err == nil {
			t.Errorf("parseStat(%q) succeeded, want an error", text)
		}
	}
}

func TestParseStatusRSS(t *testing.T) {
	got, err := parseStatusRSS("Name:\tnginx\nVmPeak:\t  20000 kB\nVmRSS:\t   12345 kB\nThreads:\t1\n")
	if err != nil || got != 12345 {
		t.Errorf("parseStatusRSS = %d, %v; want 12345", got, err)
	}
	if got, err := parseStatusRSS("Name:\tkthreadd\nState:\tS\n"); err != nil || got != 0 {
		t.Errorf("no VmRSS line: got %d, %v; want 0, nil", got, err)
	}
	if _, err := parseStatusRSS("VmRSS:\t12 MB\n"); err == nil {
		t.Error("VmRSS in MB parsed; want an error")
	}
}

// writeProc lays out a fake /proc entry.
func writeProc(t *testing.T, root string, pid, ppid int, rssKiB, ticks int) {
	t.Helper()
	dir := filepath.Join(root, strconv.Itoa(pid))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	stat := strconv.Itoa(pid) + " (p) S " + strconv.Itoa(ppid) + " 0 0 0 -1 0 0 0 0 0 " + strconv.Itoa(ticks) + " 0 0 0\n"
	status := "Name:\tp\nVmRSS:\t" + strconv.Itoa(rssKiB) + " kB\n"
	if err := os.WriteFile(filepath.Join(dir, "stat"), []byte(stat), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "status"), []byte(status), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestProcessTreeSumsDescendantsOnly(t *testing.T) {
	root := t.TempDir()
	writeProc(t, root, 100, 1, 1000, 10) // nginx master
	writeProc(t, root, 101, 100, 2000, 20)
	writeProc(t, root, 102, 100, 3000, 30)
	writeProc(t, root, 103, 102, 500, 5) // grandchild
	writeProc(t, root, 200, 1, 9999, 99) // unrelated
	if err := os.MkdirAll(filepath.Join(root, "self"), 0o755); err != nil {
		t.Fatal(err)
	}
	got, err := procFS{root: root}.tree(100)
	if err != nil {
		t.Fatal(err)
	}
	want := TreeStat{Procs: 4, RSSKiB: 6500, CPU: 650 * time.Millisecond}
	if got != want {
		t.Errorf("tree = %+v, want %+v", got, want)
	}
	if _, err := (procFS{root: root}).tree(300); err == nil {
		t.Error("tree of a missing process succeeded; want an error")
	}
}

func TestProcessTreeOfThisProcess(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("no /proc on this system")
	}
	got, err := ProcessTree(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if got.Procs < 1 || got.RSSKiB <= 0 {
		t.Errorf("ProcessTree(self) = %+v; want at least this process with some RSS", got)
	}
}
