package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"

	"github.com/tenantbridge/tenantbridge/internal/leak"
)

// logFlags are the logging flags of serve and exec.
type logFlags struct {
	format string
	level  string
	file   string
}

// newLogger builds the request logger: slog text or JSON on w (or on the
// --log-file), behind a redactingHandler. The returned close function closes
// the log file, if any.
func (f logFlags) newLogger(w io.Writer) (*slog.Logger, *redactingHandler, func() error, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(f.level)); err != nil {
		return nil, nil, nil, usagef("--log-level: %q is not one of debug, info, warn, error", f.level)
	}
	closeFn := func() error { return nil }
	if f.file != "" {
		fh, err := os.OpenFile(f.file, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("--log-file: %w", err)
		}
		w, closeFn = fh, fh.Close
	}
	opts := &slog.HandlerOptions{Level: level}
	var h slog.Handler
	switch f.format {
	case "text":
		h = slog.NewTextHandler(w, opts)
	case "json":
		h = slog.NewJSONHandler(w, opts)
	default:
		_ = closeFn()
		return nil, nil, nil, usagef("--log-format: %q is not one of text, json", f.format)
	}
	rh := newRedactingHandler(h)
	return slog.New(rh), rh, closeFn, nil
}

const redacted = "[redacted]"

// redactingHandler is the last line of defence between the emulator's logs
// and a CI log that anyone can read: fakeidp already redacts what it logs,
// but a token in a URL, an error or a future attribute must not slip through.
// It replaces every JWT-shaped string and every registered secret (the
// identity header) in the message and in attribute values.
type redactingHandler struct {
	next    slog.Handler
	secrets *secretSet
}

// secretSet is shared by a handler and the handlers derived from it by
// WithAttrs and WithGroup, so a secret added later covers all of them.
type secretSet struct {
	mu   sync.RWMutex
	list []string
}

func newRedactingHandler(next slog.Handler) *redactingHandler {
	return &redactingHandler{next: next, secrets: &secretSet{}}
}

// addSecret registers a value that must never be logged. Values shorter than
// 8 bytes are refused: redacting "a" would mangle every line.
func (h *redactingHandler) addSecret(s string) {
	if len(s) < 8 {
		return
	}
	h.secrets.mu.Lock()
	defer h.secrets.mu.Unlock()
	h.secrets.list = append(h.secrets.list, s)
}

func (h *redactingHandler) redact(s string) string {
	if strings.Contains(s, "eyJ") {
		s = leak.JWT.ReplaceAllString(s, redacted) // anything shaped like a JWT is a token or an assertion
	}
	h.secrets.mu.RLock()
	defer h.secrets.mu.RUnlock()
	for _, sec := range h.secrets.list {
		if strings.Contains(s, sec) {
			s = strings.ReplaceAll(s, sec, redacted)
		}
	}
	return s
}

func (h *redactingHandler) redactAttr(a slog.Attr) slog.Attr {
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		return slog.String(a.Key, h.redact(v.String()))
	case slog.KindGroup:
		as := v.Group()
		out := make([]slog.Attr, len(as))
		for i, x := range as {
			out[i] = h.redactAttr(x)
		}
		return slog.Attr{Key: a.Key, Value: slog.GroupValue(out...)}
	case slog.KindAny:
		// Errors, Stringers, url.Values, headers: render and redact. The
		// structure is lost, the secret is not leaked.
		var s string
		switch x := v.Any().(type) {
		case error:
			s = x.Error()
		case fmt.Stringer:
			s = x.String()
		default:
			s = fmt.Sprint(x)
		}
		return slog.String(a.Key, h.redact(s))
	default:
		return slog.Attr{Key: a.Key, Value: v}
	}
}

func (h *redactingHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.next.Enabled(ctx, l)
}

func (h *redactingHandler) Handle(ctx context.Context, r slog.Record) error {
	out := slog.NewRecord(r.Time, r.Level, h.redact(r.Message), r.PC)
	r.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(h.redactAttr(a))
		return true
	})
	return h.next.Handle(ctx, out)
}

func (h *redactingHandler) WithAttrs(as []slog.Attr) slog.Handler {
	out := make([]slog.Attr, len(as))
	for i, a := range as {
		out[i] = h.redactAttr(a)
	}
	return &redactingHandler{next: h.next.WithAttrs(out), secrets: h.secrets}
}

func (h *redactingHandler) WithGroup(name string) slog.Handler {
	return &redactingHandler{next: h.next.WithGroup(name), secrets: h.secrets}
}
