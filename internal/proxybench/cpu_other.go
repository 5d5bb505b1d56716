//go:build !unix

package proxybench

import "time"

// processCPU is not measured on this platform: the benchmark reports no cpu-ns/op.
func processCPU() (time.Duration, bool) { return 0, false }
