package bodylimit

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

func TestRead(t *testing.T) {
	tests := []struct {
		name    string
		body    string
		max     int64
		want    string
		wantErr bool
	}{
		{"empty", "", 10, "", false},
		{"under", "abc", 10, "abc", false},
		{"exactly the limit", "0123456789", 10, "0123456789", false},
		{"one over", "0123456789x", 10, "", true},
		{"far over", strings.Repeat("x", 1<<16), 1024, "", true},
		{"zero limit, empty", "", 0, "", false},
		{"zero limit, one byte", "x", 0, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, r := range map[string]io.Reader{
				"reader":      strings.NewReader(tt.body),
				"one byte":    iotest.OneByteReader(strings.NewReader(tt.body)),
				"data + EOF":  iotest.DataErrReader(strings.NewReader(tt.body)),
				"half reader": iotest.HalfReader(strings.NewReader(tt.body)),
			} {
				got, err := Read(r, tt.max)
				if tt.wantErr {
					var tl *TooLargeError
					if !errors.Is(err, ErrTooLarge) || !errors.As(err, &tl) || tl.Limit != tt.max {
						t.Fatalf("Read() error = %v, want a *TooLargeError with Limit %d", err, tt.max)
					}
					if got != nil {
						t.Fatalf("Read() returned %d bytes with the error; want none", len(got))
					}
					continue
				}
				if err != nil || string(got) != tt.want {
					t.Fatalf("Read() = %q, %v; want %q, nil", got, err, tt.want)
				}
			}
		})
	}
}

func TestReadPassesOtherErrors(t *testing.T) {
	boom := errors.New("connection reset")
	got, err := Read(io.MultiReader(strings.NewReader("ab"), iotest.ErrReader(boom)), 10)
	if !errors.Is(err, boom) || errors.Is(err, ErrTooLarge) || got != nil {
		t.Fatalf("Read() = %q, %v; want nil, %v", got, err, boom)
	}
}

func TestNewReaderStreamsToADecoder(t *testing.T) {
	doc := `{"value":["` + strings.Repeat("x", 100) + `"]}`
	var v any
	if err := json.NewDecoder(NewReader(strings.NewReader(doc), int64(len(doc)))).Decode(&v); err != nil {
		t.Fatalf("decode within the limit: %v", err)
	}
	err := json.NewDecoder(NewReader(strings.NewReader(doc), 50)).Decode(&v)
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("decode over the limit: %v, want ErrTooLarge", err)
	}
}

func TestErrorNamesTheLimit(t *testing.T) {
	_, err := Read(bytes.NewReader(make([]byte, 2<<20)), 1<<20)
	if err == nil || !strings.Contains(err.Error(), "1 MiB") {
		t.Fatalf("error %v does not name the 1 MiB limit", err)
	}
}

func TestSize(t *testing.T) {
	for n, want := range map[int64]string{
		0: "0 bytes", 1: "1 byte", 1000: "1000 bytes", 1024: "1 KiB",
		64 << 10: "64 KiB", 1 << 20: "1 MiB", 32 << 20: "32 MiB", 1<<20 + 1: "1048577 bytes",
	} {
		if got := Size(n); got != want {
			t.Errorf("Size(%d) = %q, want %q", n, got, want)
		}
	}
}
