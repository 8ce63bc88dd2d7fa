package armtest

import "github.com/tenantbridge/tenantbridge/internal/httpserver"

// RequestLogBytes is what the request log holds by its estimate.
func RequestLogBytes(s *Server) int { return s.requests.Bytes() }

// ListenerTimeouts are the timeouts the listener runs with.
func ListenerTimeouts(s *Server) httpserver.Timeouts {
	c := s.srv.Config
	return httpserver.Timeouts{ReadHeader: c.ReadHeaderTimeout, Read: c.ReadTimeout, Idle: c.IdleTimeout}
}
