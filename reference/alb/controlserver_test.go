package alb

import (
	"io"
	"testing"

	. "github.com/onsi/gomega"
)

// TestLineRing keeps the newest lines and numbers them from the first ever written.
func TestLineRing(t *testing.T) {
	g := NewWithT(t)
	r := NewLineRing(3)
	_, _ = io.WriteString(r, "a\nb\nc")
	lines, next, _ := r.since(0)
	g.Expect(lines).To(Equal([]string{"a", "b"}), "an unfinished line is held back")
	g.Expect(next).To(Equal(2))
	_, changed := func() (int, <-chan struct{}) { _, n, c := r.since(next); return n, c }()
	_, _ = io.WriteString(r, "\nd\ne\n")
	g.Expect(changed).To(BeClosed(), "a follower is woken")
	lines, next, _ = r.since(next)
	g.Expect(lines).To(Equal([]string{"c", "d", "e"}))
	g.Expect(next).To(Equal(5))
	lines, _, _ = r.since(0)
	g.Expect(lines).To(Equal([]string{"c", "d", "e"}), "only max lines are kept")
	lines, _, _ = r.since(4)
	g.Expect(lines).To(Equal([]string{"e"}))

	_, _ = io.WriteString(r, "f")
	r.Clear()
	lines, _, _ = r.since(0)
	g.Expect(lines).To(BeEmpty(), "a cleared ring holds no line, nor the unfinished one")
	_, _ = io.WriteString(r, "g\n")
	lines, n, _ := r.since(next)
	g.Expect(lines).To(Equal([]string{"g"}), "a follower goes on with the next line")
	g.Expect(n).To(Equal(6))
	lines, _, _ = r.since(0)
	g.Expect(lines).To(Equal([]string{"g"}))
}
