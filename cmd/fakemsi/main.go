// Command fakemsi runs tenantbridge's offline emulator of Microsoft Entra, the
// Azure managed-identity endpoints and Microsoft Graph, so that the whole
// secret-less cross-tenant flow runs on a laptop and in CI.
//
//	fakemsi demo                      # the whole flow, end to end, in one process
//	fakemsi exec -- go test ./...     # run a test suite (any language) against the emulator
//	fakemsi serve --env-file fake.env # run until Ctrl-C; source the printed environment
//
// The emulator itself is the package emulator (over fakeidp and
// graphlite/graphtest), which Go tests start in process; this command only
// reads flags and the config file into its options, prints the environment
// block, and handles processes and signals. See docs/fakemsi.md.
package main

import "os"

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}
