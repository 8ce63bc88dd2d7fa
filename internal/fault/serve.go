package fault

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strconv"
	"time"
)

// Serve plays f out on one request, in place of next: it waits f.Latency
// (less when the client gives up), then closes the connection ([BodyReset]),
// answers with f.Status through writeStatus (each fake writes its own
// protocol's error body; Serve has already set Retry-After and f.Header), or
// sends next's answer damaged as f.Body says. A fault with only a latency
// lets next answer.
//
// A reset or a truncated body ends in panic(http.ErrAbortHandler), which
// net/http turns into a closed connection; an in-process caller of the
// handler must recover it the same way.
func Serve(w http.ResponseWriter, r *http.Request, f Fault, writeStatus func(http.ResponseWriter), next http.Handler) {
	if f.Latency > 0 {
		t := time.NewTimer(f.Latency)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
		}
	}
	switch {
	case f.Body == BodyReset:
		panic(http.ErrAbortHandler)
	case f.Status != 0:
		if f.RetryAfter > 0 {
			w.Header().Set("Retry-After", strconv.FormatInt(int64((f.RetryAfter+time.Second-1)/time.Second), 10))
		}
		addHeader(w.Header(), f.Header)
		writeStatus(w)
	case f.Body != "":
		rec := httptest.NewRecorder()
		next.ServeHTTP(rec, r)
		damage(w, rec, f)
	default:
		next.ServeHTTP(w, r)
	}
}

func addHeader(dst, src http.Header) {
	for k, vs := range src {
		dst.Del(k)
		for _, v := range vs {
			dst.Add(k, v)
		}
	}
}

// damage sends the recorded answer as f.Body says.
func damage(w http.ResponseWriter, rec *httptest.ResponseRecorder, f Fault) {
	body := rec.Body.Bytes()
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	addHeader(w.Header(), f.Header)
	switch f.Body {
	case BodyTruncated:
		// Promise the whole body, send half, hang up: the client sees an
		// unexpected EOF.
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.WriteHeader(rec.Code)
		_, _ = w.Write(body[:len(body)/2])
		_ = http.NewResponseController(w).Flush()
		panic(http.ErrAbortHandler)
	case BodyMalformed:
		// JSON that stops in the middle of a member, with a proper ending, so
		// that only a parser (not the transport) notices.
		cut := bytes.TrimSuffix(bytes.TrimSpace(body), []byte("}"))
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.Header().Del("Content-Length")
		w.WriteHeader(rec.Code)
		_, _ = w.Write(append(cut, []byte(`,"expires_in":`)...))
	case BodyOversize:
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.Header().Set("Content-Length", strconv.Itoa(OversizeBytes))
		w.WriteHeader(rec.Code)
		head := []byte(`{"padding":"`)
		tail := []byte(`"}`)
		_, _ = w.Write(head)
		chunk := bytes.Repeat([]byte("x"), 64<<10)
		left := OversizeBytes - len(head) - len(tail)
		for left > 0 {
			n := min(left, len(chunk))
			if _, err := w.Write(chunk[:n]); err != nil {
				return
			}
			left -= n
		}
		_, _ = w.Write(tail)
	default: // a kind this version does not know: the answer as it was
		w.WriteHeader(rec.Code)
		_, _ = w.Write(body)
	}
}
