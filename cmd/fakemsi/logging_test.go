package main

import (
	"bytes"
	"strings"
	"testing"
)

// testJWT is shaped like a JWT, for the redaction tests.
const testJWT = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl"

func TestLogLevelFilters(t *testing.T) {
	var buf bytes.Buffer
	logger, closeLog, err := logFlags{format: "text", level: "warn"}.newLogger(&buf)
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

func TestLogFormats(t *testing.T) {
	for format, want := range map[string]string{"text": "level=INFO msg=hello", "json": `"level":"INFO","msg":"hello"`} {
		var buf bytes.Buffer
		logger, closeLog, err := logFlags{format: format, level: "info"}.newLogger(&buf)
		if err != nil {
			t.Fatal(err)
		}
		logger.Info("hello")
		closeLog()
		if !strings.Contains(buf.String(), want) {
			t.Errorf("%s format: %q lacks %q", format, buf.String(), want)
		}
	}
	if _, _, err := (logFlags{format: "xml", level: "info"}).newLogger(&bytes.Buffer{}); err == nil {
		t.Error("format xml accepted")
	}
}
