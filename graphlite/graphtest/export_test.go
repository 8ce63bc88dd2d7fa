package graphtest

import (
	"github.com/tenantbridge/tenantbridge/internal/httpserver"
	"github.com/tenantbridge/tenantbridge/internal/jwks"
)

// KeysRefetchInterval lets the external tests move their clock past the
// refetch interval without repeating its value.
const KeysRefetchInterval = jwks.RefetchInterval

// RequestLogBytes is what the request log holds by its estimate.
func RequestLogBytes(s *Server) int { return s.requests.Bytes() }

// NewWithTimeouts is New with listener timeouts of the test's choosing, so
// that a test of the slowloris defence need not wait ten seconds.
func NewWithTimeouts(opts *Options, t httpserver.Timeouts) (*Server, error) {
	return newServer(opts, t)
}

// ListenerTimeouts are the timeouts the listener runs with.
func ListenerTimeouts(s *Server) httpserver.Timeouts {
	c := s.srv.Config
	return httpserver.Timeouts{ReadHeader: c.ReadHeaderTimeout, Read: c.ReadTimeout, Idle: c.IdleTimeout}
}
