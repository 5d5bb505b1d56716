package bench

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// clockTicks is USER_HZ, the unit of utime and stime in /proc/PID/stat; it is 100 on every Linux
// architecture Go supports.
const clockTicks = 100

// ProcStat is what the runner reads of one process: resident memory and CPU time used so far.
type ProcStat struct {
	PID  int
	PPID int
	// RSSKiB is VmRSS from /proc/PID/status.
	RSSKiB int64
	// CPU is utime+stime from /proc/PID/stat.
	CPU time.Duration
}

// TreeStat sums ProcStat over a process and all its descendants, so nginx's master and workers
// (or a shell wrapper and its child) count as one server.
type TreeStat struct {
	Procs  int
	RSSKiB int64
	CPU    time.Duration
}

// parseStat reads pid, ppid and utime+stime from the text of /proc/PID/stat. The command name
// in parentheses may hold spaces and parentheses, so fields are counted from the last ')'.
func parseStat(text string) (pid, ppid int, cpu time.Duration, err error) {
	open := strings.IndexByte(text, '(')
	end := strings.LastIndexByte(text, ')')
	if open < 0 || end < open {
		return 0, 0, 0, fmt.Errorf("parse /proc stat %q: no (comm)", trim(text))
	}
	if pid, err = strconv.Atoi(strings.TrimSpace(text[:open])); err != nil {
		return 0, 0, 0, fmt.Errorf("parse /proc stat: pid: %w", err)
	}
	// After "(comm) ": state(3) ppid(4) pgrp(5) session(6) tty_nr(7) tpgid(8) flags(9) minflt(10)
	// cminflt(11) majflt(12) cmajflt(13) utime(14) stime(15).
	f := strings.Fields(text[end+1:])
	if len(f) < 13 {
		return 0, 0, 0, fmt.Errorf("parse /proc stat of %d: %d fields after comm, want at least 13", pid, len(f))
	}
	if ppid, err = strconv.Atoi(f[1]); err != nil {
		return 0, 0, 0, fmt.Errorf("parse /proc stat of %d: ppid: %w", pid, err)
	}
	utime, err := strconv.ParseInt(f[11], 10, 64)
	if err != nil {
		return 0, 0, 0, fmt.Errorf("parse /proc stat of %d: utime: %w", pid, err)
	}
	stime, err := strconv.ParseInt(f[12], 10, 64)
	if err != nil {
		return 0, 0, 0, fmt.Errorf("parse /proc stat of %d: stime: %w", pid, err)
	}
	return pid, ppid, ticks(utime + stime), nil
}

func ticks(n int64) time.Duration { return time.Duration(n) * time.Second / clockTicks }

// parseStatusRSS returns VmRSS in KiB from the text of /proc/PID/status; a kernel thread or a
// zombie has no VmRSS line, which reads as 0.
func parseStatusRSS(text string) (int64, error) {
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		line := sc.Text()
		rest, ok := strings.CutPrefix(line, "VmRSS:")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) != 2 || f[1] != "kB" {
			return 0, fmt.Errorf("parse /proc status: VmRSS line %q: want \"VmRSS: N kB\"", line)
		}
		n, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("parse /proc status: VmRSS: %w", err)
		}
		return n, nil
	}
	return 0, nil
}

// procFS reads processes from a proc mount; root is a field so tests can point at a fake tree.
type procFS struct{ root string }

func (p procFS) stat(pid int) (ProcStat, error) {
	statText, err := os.ReadFile(filepath.Join(p.root, strconv.Itoa(pid), "stat"))
	if err != nil {
		return ProcStat{}, fmt.Errorf("read stat of process %d: %w", pid, err)
	}
	statusText, err := os.ReadFile(filepath.Join(p.root, strconv.Itoa(pid), "status"))
	if err != nil {
		return ProcStat{}, fmt.Errorf("read status of process %d: %w", pid, err)
	}
	gotPID, ppid, cpu, err := parseStat(string(statText))
	if err != nil {
		return ProcStat{}, err
	}
	rss, err := parseStatusRSS(string(statusText))
	if err != nil {
		return ProcStat{}, fmt.Errorf("process %d: %w", pid, err)
	}
	return ProcStat{PID: gotPID, PPID: ppid, RSSKiB: rss, CPU: cpu}, nil
}

// tree sums a process and its descendants. Processes that exit while it reads are skipped; the
// root itself must exist.
func (p procFS) tree(root int) (TreeStat, error) {
	rootStat, err := p.stat(root)
	if err != nil {
		return TreeStat{}, err
	}
	entries, err := os.ReadDir(p.root)
	if err != nil {
		return TreeStat{}, fmt.Errorf("list processes in %s: %w", p.root, err)
	}
	children := map[int][]ProcStat{}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == root {
			continue
		}
		s, err := p.stat(pid)
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				continue
			}
			continue // a process we may not read, or that vanished mid-read: not ours
		}
		children[s.PPID] = append(children[s.PPID], s)
	}
	return sumTree(rootStat, children), nil
}

// sumTree adds up root and everything below it in children (keyed by parent PID). Depth is
// bounded by the number of processes, since each is visited once.
func sumTree(root ProcStat, children map[int][]ProcStat) TreeStat {
	out := TreeStat{}
	seen := map[int]bool{}
	queue := []ProcStat{root}
	for len(queue) > 0 {
		s := queue[0]
		queue = queue[1:]
		if seen[s.PID] {
			continue
		}
		seen[s.PID] = true
		out.Procs++
		out.RSSKiB += s.RSSKiB
		out.CPU += s.CPU
		queue = append(queue, children[s.PID]...)
	}
	return out
}

// ProcessTree reads the RSS and CPU of pid and all its descendants from /proc.
func ProcessTree(pid int) (TreeStat, error) { return procFS{root: "/proc"}.tree(pid) }

func trim(s string) string {
	s = string(bytes.TrimSpace([]byte(s)))
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}
