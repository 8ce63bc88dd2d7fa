// Package tenantlist reads a list of tenant IDs from one string, the form an
// environment variable or an app setting holds, for every place in the module
// that reads one (AZURE_ADDITIONALLY_ALLOWED_TENANTS in federated,
// ALLOWED_TENANTS in examples/functionapp, TENANTBRIDGE_LIVE_TENANTS in the
// live conformance tests, FAKEMSI_TENANTS wherever a program of ours reads it).
//
// The documented separator is the comma. Semicolons are accepted too, because
// azidentity documents AZURE_ADDITIONALLY_ALLOWED_TENANTS as
// semicolon-separated, and whitespace (spaces, tabs, newlines), because lists
// are pasted from tables and shell variables; a reader should not have to
// know which program wrote the list.
package tenantlist

import "strings"

// Parse splits s on commas, semicolons and whitespace and returns the
// non-empty items in order, each as written (no case change, no
// de-duplication, no validation: the callers' rules differ, e.g. "*" means
// any tenant to federated and is refused by the example Function App).
// An empty or separator-only s gives nil.
func Parse(s string) []string {
	out := strings.FieldsFunc(s, isSeparator)
	if len(out) == 0 {
		return nil
	}
	return out
}

func isSeparator(r rune) bool {
	switch r {
	case ',', ';', ' ', '\t', '\n', '\r', '\v', '\f':
		return true
	}
	return false
}
