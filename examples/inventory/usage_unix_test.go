//go:build unix

package main

import (
	"syscall"
	"time"
)

// processUsage is the process's CPU time (user + system) and its peak
// resident set in KiB (bytes on darwin), for the scale benchmark.
func processUsage() (cpu time.Duration, maxRSS int64) {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0, 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), int64(ru.Maxrss)
}
