package main

import (
	"fmt"
	"io"
	"log/slog"
	"os"
)

// logFlags are the logging flags of serve and exec.
type logFlags struct {
	format string
	level  string
	file   string
}

// newLogger builds the request logger: slog text or JSON on w (or on the
// --log-file). The emulator puts its redaction of tokens and the identity
// header in front of it. The returned close function closes the log file, if
// any.
func (f logFlags) newLogger(w io.Writer) (*slog.Logger, func() error, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(f.level)); err != nil {
		return nil, nil, usagef("--log-level: %q is not one of debug, info, warn, error", f.level)
	}
	closeFn := func() error { return nil }
	if f.file != "" {
		fh, err := os.OpenFile(f.file, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
		if err != nil {
			return nil, nil, fmt.Errorf("--log-file: %w", err)
		}
		w, closeFn = fh, fh.Close
	}
	opts := &slog.HandlerOptions{Level: level}
	switch f.format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), closeFn, nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), closeFn, nil
	}
	_ = closeFn()
	return nil, nil, usagef("--log-format: %q is not one of text, json", f.format)
}
