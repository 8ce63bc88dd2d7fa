package emulator

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"net/url"
	"strings"
	"testing"

	"github.com/tenantbridge/tenantbridge/internal/leak"
)

const (
	testJWT    = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl"
	testHeader = "0123456789abcdef0123456789abcdef"
)

// TestRedactingHandler logs secrets every way a caller could and checks that
// none reaches the output, in both formats.
func TestRedactingHandler(t *testing.T) {
	for name, newHandler := range map[string]func(io.Writer) slog.Handler{
		"text": func(w io.Writer) slog.Handler { return slog.NewTextHandler(w, nil) },
		"json": func(w io.Writer) slog.Handler { return slog.NewJSONHandler(w, nil) },
	} {
		t.Run(name, func(t *testing.T) {
			var buf bytes.Buffer
			// "short" is refused: too short to redact safely.
			logger := slog.New(newRedactingHandler(newHandler(&buf), testHeader, "short"))
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
					t.Errorf("log lacks %q:\n%s", want, leak.Redact(out, testHeader))
				}
			}
			if n := strings.Count(out, "\n"); n != 2 {
				t.Errorf("%d lines, want 2:\n%s", n, leak.Redact(out, testHeader))
			}
		})
	}
}

// TestRedactingHandlerIsLeakRedact checks that the handler hides what
// leak.Redact hides, its fast path included: for every input, redact gives
// leak.Redact's answer.
func TestRedactingHandlerIsLeakRedact(t *testing.T) {
	const jwtSecret = testJWT + "c2lnbmF0dXJlLW9mLWEtdGVzdA" // a signature long enough for leak's cut-token rule
	for _, secrets := range [][]string{{testHeader}, {testHeader, jwtSecret}} {
		h := newRedactingHandler(slog.DiscardHandler, secrets...)
		for _, in := range []string{
			"/22222222-2222-2222-2222-222222222222/oauth2/v2.0/token",
			"POST",
			"",
			"token " + testJWT + " issued",
			"X-IDENTITY-HEADER: " + testHeader,
			"export IDENTITY_HEADER='not-the-registered-one'",
			"MSI_SECRET=other",
			"cut off: ..." + jwtSecret[strings.LastIndex(jwtSecret, ".")+1:],
		} {
			if got, want := h.redact(in), leak.Redact(in, secrets...); got != want {
				t.Errorf("secrets %d: redact(%q) = %q, leak.Redact gives %q", len(secrets), leak.Redact(in, secrets...), got, want)
			}
		}
	}
}

// The benchmarks compare a request line through the redactor with the same
// line straight to the text handler (writing to io.Discard, so that the
// record is really formatted; slog.DiscardHandler would skip all the work).
func BenchmarkRedactingHandler(b *testing.B) {
	logger := slog.New(newRedactingHandler(slog.NewTextHandler(io.Discard, nil), testHeader))
	b.ReportAllocs()
	for b.Loop() {
		logRequestLine(logger)
	}
}

func BenchmarkPlainHandler(b *testing.B) {
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	b.ReportAllocs()
	for b.Loop() {
		logRequestLine(logger)
	}
}

func logRequestLine(logger *slog.Logger) {
	logger.Info("fakeidp request", slog.String("listener", "entra"), slog.String("method", "POST"),
		slog.String("path", "/22222222-2222-2222-2222-222222222222/oauth2/v2.0/token"), slog.Int("status", 200),
		slog.Int("error_code", 0), slog.String("tenant", "22222222-2222-2222-2222-222222222222"),
		slog.String("client_id", "aaaaaaaa-aaaa-aaaa-aaaa-aaaaaaaaaaaa"))
}
