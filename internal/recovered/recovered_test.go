package recovered

import (
	"errors"
	"github.com/tenantbridge/tenantbridge/internal/testwait"
	"runtime"
	"strings"
	"testing"
)

// Not a real token: JWT-shaped, so the error must not quote it.
const secretJWT = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzZWNyZXQifQ.c2lnbmF0dXJlLXNlY3JldC1wYXJ0LWxvbmc"

func TestCall(t *testing.T) {
	v, err := Call("test: call", func() (string, error) { return "v", nil })
	if v != "v" || err != nil {
		t.Errorf("Call of a returning function = (%q, %v), want (v, nil)", v, err)
	}
	failing := errors.New("failed")
	if v, err := Call("test: call", func() (string, error) { return "kept", failing }); v != "kept" || err != failing {
		t.Errorf("Call of a failing function = (%q, %v), want its own results", v, err)
	}
}

func TestCallPanic(t *testing.T) {
	cases := []struct {
		name  string
		value any
		want  string
	}{
		{"string", "boom " + secretJWT, "test: call panicked: boom [jwt redacted]"},
		{"error", errors.New("bad\nline"), "test: call panicked: bad line"},
		{"other value", map[string]string{"token": secretJWT}, "test: call panicked: map[token:[jwt redacted]]"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v, err := Call("test: call", func() (string, error) { panic(tc.value) })
			if v != "" || !errors.Is(err, ErrPanicked) || err.Error() != tc.want {
				t.Errorf("Call = (%q, %q), want (\"\", %q) matching ErrPanicked", v, err, tc.want)
			}
		})
	}
}

func TestCallPanicValueIsClipped(t *testing.T) {
	_, err := Call("test: call", func() (int, error) { panic(strings.Repeat("é", 1000)) })
	msg := err.Error()
	if len(msg) > len("test: call panicked: ")+MaxValueBytes || !strings.HasSuffix(msg, "é…") {
		t.Errorf("message of %d bytes, ending %q: want at most %d bytes of value, cut on a rune", len(msg), msg[len(msg)-8:], MaxValueBytes)
	}
}

// runtime.Goexit ends the goroutine whatever Into does; what Into must do is
// leave an error, not a zero success, where the caller reads the results.
func TestIntoGoexit(t *testing.T) {
	v, err := 7, error(nil)
	done := make(chan struct{})
	go func() {
		defer close(done)
		Into("test: call", &v, &err, func() (int, error) {
			runtime.Goexit()
			return 1, nil
		})
		t.Error("Into returned normally after runtime.Goexit")
	}()
	testwait.Receive(t, done, "the goroutine calling Into ending")
	if v != 0 || !errors.Is(err, ErrPanicked) || err.Error() != "test: call called runtime.Goexit instead of returning" {
		t.Errorf("after runtime.Goexit the results are (%d, %v), want (0, an error matching ErrPanicked)", v, err)
	}
}

func TestIntoStoresResults(t *testing.T) {
	var v string
	var err error
	Into("test: call", &v, &err, func() (string, error) { return "v", nil })
	if v != "v" || err != nil {
		t.Errorf("Into of a returning function stored (%q, %v), want (v, nil)", v, err)
	}
	Into("test: call", &v, &err, func() (string, error) { panic("boom") })
	if v != "" || !errors.Is(err, ErrPanicked) {
		t.Errorf("Into of a panicking function stored (%q, %v), want (\"\", ErrPanicked)", v, err)
	}
}
