package conformance

import (
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/tenantbridge/tenantbridge/internal/leak"
)

// errorContains reports whether err's text, in any of the forms a logger
// might print, contains secret.
func errorContains(err error, secret string) bool {
	if err == nil || secret == "" {
		return false
	}
	for _, s := range []string{err.Error(), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", err)} {
		if containsSecret(s, secret) {
			return true
		}
	}
	return false
}

// containsSecret reports whether s contains secret, or the part of a JWT that
// identifies it (its signature): a token cut in the middle still leaks.
func containsSecret(s, secret string) bool {
	if secret == "" {
		return false
	}
	if strings.Contains(s, secret) {
		return true
	}
	if i := strings.LastIndexByte(secret, '.'); i >= 0 && len(secret)-i > 16 {
		return strings.Contains(s, secret[i+1:])
	}
	return false
}

type formatting struct {
	how, text string
}

// formattings renders v the ways a log line might: always %v and %+v, plus
// the optional capabilities it implements.
func formattings(v any) []formatting {
	fs := []formatting{
		{"%v", fmt.Sprintf("%v", v)},
		{"%+v", fmt.Sprintf("%+v", v)},
	}
	if s, ok := v.(fmt.Stringer); ok {
		fs = append(fs, formatting{"String()", s.String()})
	}
	if g, ok := v.(fmt.GoStringer); ok {
		fs = append(fs, formatting{"GoString() (%#v)", g.GoString()})
	}
	if l, ok := v.(slog.LogValuer); ok {
		fs = append(fs, formatting{"LogValue()", l.LogValue().Resolve().String()})
	}
	return fs
}

func fmtTime(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// redactSecrets returns s with every JWT-shaped substring and every secret
// replaced. The harness quotes the errors of the implementation under test,
// and an implementation that leaks a token into its errors must not make the
// harness's report, printed in CI logs, leak it too.
func redactSecrets(s string, secrets []string) string { return leak.Redact(s, secrets...) }

// fmtTimeFine is fmtTime with milliseconds, for times that are not whole
// seconds (an ExpiresOn computed from expires_in).
func fmtTimeFine(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z07:00") }
