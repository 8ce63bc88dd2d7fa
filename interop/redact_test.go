package interop

import "github.com/tenantbridge/tenantbridge/internal/leak"

// redact formats a value for a failure message with tokens, the identity
// header of an environment dump and the given secrets hidden: failure
// messages quote errors of real clients and output of child processes.
var redact = leak.Redact
