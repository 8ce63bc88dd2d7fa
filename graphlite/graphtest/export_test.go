package graphtest

// KeysRefetchInterval lets the external tests move their clock past the
// refetch interval without repeating its value.
const KeysRefetchInterval = keysRefetchInterval

// RequestLogBytes is what the request log holds by its estimate.
func RequestLogBytes(s *Server) int { return s.requests.Bytes() }
