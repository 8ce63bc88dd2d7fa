// Package interop proves that real clients accept tenantbridge's emulator and
// measures tenantbridge against the alternative people use today.
//
// It is a separate module so that the main module never depends on
// azidentity: the tests here drive azidentity v1.15.0 (ManagedIdentityCredential
// feeding ClientAssertionCredential, WorkloadIdentityCredential) against the
// emulator (package emulator, and cmd/fakemsi for unmodified programs) and
// check that every misconfiguration surfaces with Entra's AADSTS code; js/
// does the same with @azure/identity under node --test, starting the emulator
// with `fakemsi serve` and `fakemsi exec`; bench/ holds the side-by-side
// benchmarks reported in docs/performance.md.
//
// MSAL Go keeps one process-wide managed-identity token cache, so each test
// binary here runs exactly one emulator (started in TestMain): a
// managed-identity token cached from one would be presented to another and
// fail its signature check.
package interop
