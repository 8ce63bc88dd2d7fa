package fakeidp

import "github.com/tenantbridge/tenantbridge/internal/leak"

// redact formats a value for a failure message with tokens and secrets
// hidden, so a test that goes wrong never prints a token.
var redact = leak.Redact
