package main

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"net/url"
	"strings"
	"testing"
)

const (
	testJWT    = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl"
	testHeader = "0123456789abcdef0123456789abcdef"
)

// TestRedactingHandler logs secrets every way a caller could and checks that
// none reaches the output, in both formats.
func TestRedactingHandler(t *testing.T) {
	for _, format := range []string{"text", "json"} {
		t.Run(format, func(t *testing.T) {
			var buf bytes.Buffer
			logger, rh, closeLog, err := logFlags{format: format, level: "debug"}.newLogger(&buf)
			if err != nil {
				t.Fatal(err)
			}
			defer closeLog()
			rh.addSecret(testHeader)
			rh.addSecret("short") // refused: too short to redact safely

			logger.Info("token "+testJWT+" issued",
				slog.String("assertion", testJWT),
				slog.String("header", "X-IDENTITY-HEADER: "+testHeader),
				slog.Any("err", errors.New("bad token "+testJWT)),
				slog.Any("form", url.Values{"client_assertion": {testJWT}}),
				slog.Group("req", slog.String("authorization", "Bearer "+testJWT)),
				slog.Int("status", 200),
				slog.String("word", "short"),
			)
			logger.With(slog.String("secret", testHeader)).WithGroup("g").Info("derived", slog.String("jwt", testJWT))

			out := buf.String()
			if strings.Contains(out, "eyJ") {
				t.Error("log contains a JWT")
			}
			if strings.Contains(out, testHeader) {
				t.Error("log contains the identity header")
			}
			for _, want := range []string{"[redacted]", "200", "short", "derived"} {
				if !strings.Contains(out, want) {
					t.Errorf("log lacks %q:\n%s", want, redact(out, testHeader))
				}
			}
			if n := strings.Count(out, "\n"); n != 2 {
				t.Errorf("%d lines, want 2:\n%s", n, redact(out, testHeader))
			}
		})
	}
}

func TestLogLevelFilters(t *testing.T) {
	var buf bytes.Buffer
	logger, _, closeLog, err := logFlags{format: "text", level: "warn"}.newLogger(&buf)
	if err != nil {
		t.Fatal(err)
	}
	defer closeLog()
	logger.Info("quiet")
	logger.Warn("loud")
	if got := buf.String(); strings.Contains(got, "quiet") || !strings.Contains(got, "loud") {
		t.Errorf("warn level output:\n%s", redact(got))
	}
}

// The benchmarks compare a request line through the redactor with the same
// line straight to the text handler (writing to io.Discard, so that the
// record is really formatted; slog.DiscardHandler would skip all the work).
func BenchmarkRedactingHandler(b *testing.B) {
	h := newRedactingHandler(slog.NewTextHandler(io.Discard, nil))
	h.addSecret(testHeader)
	logger := slog.New(h)
	b.ReportAllocs()
	for b.Loop() {
		logger.Info("fakeidp request", slog.String("listener", "entra"), slog.String("method", "POST"),
			slog.String("path", "/22222222-2222-2222-2222-222222222222/oauth2/v2.0/token"), slog.Int("status", 200),
			slog.Int("error_code", 0), slog.String("tenant", "22222222-2222-2222-2222-222222222222"),
			slog.String("client_id", "aaaaaaaa-aaaa-aaaa-aaaa-aaaaaaaaaaaa"))
	}
}

func BenchmarkPlainHandler(b *testing.B) {
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	b.ReportAllocs()
	for b.Loop() {
		logger.Info("fakeidp request", slog.String("listener", "entra"), slog.String("method", "POST"),
			slog.String("path", "/22222222-2222-2222-2222-222222222222/oauth2/v2.0/token"), slog.Int("status", 200),
			slog.Int("error_code", 0), slog.String("tenant", "22222222-2222-2222-2222-222222222222"),
			slog.String("client_id", "aaaaaaaa-aaaa-aaaa-aaaa-aaaaaaaaaaaa"))
	}
}
