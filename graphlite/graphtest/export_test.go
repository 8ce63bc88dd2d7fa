package graphtest

import "github.com/tenantbridge/tenantbridge/internal/jwks"

// KeysRefetchInterval lets the external tests move their clock past the
// refetch interval without repeating its value.
const KeysRefetchInterval = jwks.RefetchInterval
