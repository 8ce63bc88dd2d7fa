package graphtest

import (
	"context"
	"log/slog"
	"net/http"
	"time"
)

// ListenerGraph is the Listener of every [Request] of this server and of its
// request log's lines, beside fakeidp's "entra" and "msi".
const ListenerGraph = "graph"

// logRequest writes the request's line, in the shape of fakeidp's so that an
// emulator's log reads as one: listener, method, path, status, error code,
// tenant, latency. It is built from a Request, whose Authorization header is
// already redacted, and it logs neither headers nor the query, so no token
// can reach it.
func (s *Server) logRequest(ctx context.Context, rec Request, latency time.Duration) {
	level := slog.LevelInfo
	if rec.Status == 0 || rec.Status >= http.StatusBadRequest {
		level = slog.LevelWarn
	}
	if !s.logger.Enabled(ctx, level) {
		return
	}
	attrs := []slog.Attr{
		slog.String("listener", rec.Listener), slog.String("method", rec.Method), slog.String("path", rec.Path),
		slog.Int("status", rec.Status), slog.String("error_code", rec.Code),
		slog.String("tenant", rec.Tenant), slog.Duration("latency", latency),
	}
	if rec.InBatch {
		attrs = append(attrs, slog.Bool("in_batch", true))
	}
	s.logger.LogAttrs(ctx, level, "graphtest request", attrs...)
}
