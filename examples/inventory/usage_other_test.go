//go:build !unix

package main

import "time"

// processUsage is not measured outside unix: the benchmark reports 0.
func processUsage() (cpu time.Duration, maxRSS int64) { return 0, 0 }
