package bench

import (
	"math"
	"slices"
)

// Series is one figure measured once per round; medians, not means, because a noisy neighbour
// hits single rounds.
type Series []float64

// Summary is a series reduced to what the report prints.
type Summary struct {
	N                int
	Median, Min, Max float64
	Valid            bool
}

// Summarize returns the median, min and max of the finite values of s; NaN marks a round that
// failed and is left out. Valid is false when no round produced a value.
func (s Series) Summarize() Summary {
	vals := make([]float64, 0, len(s))
	for _, v := range s {
		if !math.IsNaN(v) && !math.IsInf(v, 0) {
			vals = append(vals, v)
		}
	}
	if len(vals) == 0 {
		return Summary{}
	}
	slices.Sort(vals)
	n := len(vals)
	med := vals[n/2]
	if n%2 == 0 {
		med = (vals[n/2-1] + vals[n/2]) / 2
	}
	return Summary{N: n, Median: med, Min: vals[0], Max: vals[n-1], Valid: true}
}

// Ratio is a/b of two medians, ok only when both are valid and b is not zero.
func Ratio(a, b Summary) (float64, bool) {
	if !a.Valid || !b.Valid || b.Median == 0 {
		return 0, false
	}
	return a.Median / b.Median, true
}
