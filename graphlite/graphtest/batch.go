package graphtest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"
)

// JSON batching limits (learn.microsoft.com/graph/json-batching).
const (
	maxBatchRequests = 20
	maxBatchBytes    = 1 << 20
)

type batchRequest struct {
	ID      string            `json:"id"`
	Method  string            `json:"method"`
	URL     string            `json:"url"`
	Headers map[string]string `json:"headers"`
}

type batchResponse struct {
	ID      string            `json:"id"`
	Status  int               `json:"status"`
	Headers map[string]string `json:"headers,omitempty"`
	Body    json.RawMessage   `json:"body,omitempty"`
}

// batch serves POST /$batch: each request runs as if it came alone, with the
// batch's token. Responses come in reverse order, because Graph does not
// promise any order and clients must match them by id.
func (s *Server) batch(w http.ResponseWriter, r *http.Request, version string) {
	var in struct {
		Requests []batchRequest `json:"requests"`
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBatchBytes))
	if err := dec.Decode(&in); err != nil {
		s.writeError(w, r, http.StatusBadRequest, "BadRequest", "Invalid batch payload format.")
		return
	}
	if len(in.Requests) == 0 || len(in.Requests) > maxBatchRequests {
		s.writeError(w, r, http.StatusBadRequest, "BadRequest", fmt.Sprintf("A batch must have between 1 and %d requests.", maxBatchRequests))
		return
	}
	seen := map[string]bool{}
	for _, br := range in.Requests {
		if br.ID == "" || seen[br.ID] {
			s.writeError(w, r, http.StatusBadRequest, "BadRequest", "Each request in a batch needs a unique id.")
			return
		}
		seen[br.ID] = true
	}
	out := make([]batchResponse, 0, len(in.Requests))
	for i := len(in.Requests) - 1; i >= 0; i-- {
		out = append(out, s.batchOne(r, version, in.Requests[i]))
	}
	b, _ := json.Marshal(map[string]any{"responses": out})
	writeJSON(w, bytes.NewBuffer(b))
}

func (s *Server) batchOne(outer *http.Request, version string, br batchRequest) batchResponse {
	target := s.URL() + "/" + version + "/" + strings.TrimPrefix(br.URL, "/")
	method := br.Method
	if method == "" {
		method = http.MethodGet
	}
	inner, err := http.NewRequestWithContext(outer.Context(), method, target, nil)
	if err != nil || strings.HasPrefix(br.URL, "http") {
		body, _ := json.Marshal(map[string]any{"error": map[string]string{"code": "BadRequest", "message": "Invalid request URL."}})
		return batchResponse{ID: br.ID, Status: http.StatusBadRequest, Body: body}
	}
	inner.Header.Set("Authorization", outer.Header.Get("Authorization"))
	for k, v := range br.Headers {
		inner.Header.Set(k, v)
	}
	began := time.Now()
	rec := s.newRecord(inner, true)
	// Its own record: the outer request's context carries the $batch's.
	inner = withRecord(inner, &rec)
	rr := httptest.NewRecorder()
	if method != http.MethodGet {
		s.writeError(rr, inner, http.StatusMethodNotAllowed, "Request_BadRequest", "graphtest serves only GET inside $batch.")
	} else {
		s.handle(rr, inner, &rec, true)
	}
	rec.Status = rr.Code
	s.addRecord(&rec)
	s.logRequest(inner.Context(), rec, time.Since(began))
	resp := batchResponse{ID: br.ID, Status: rr.Code, Headers: map[string]string{}}
	for _, h := range []string{"Content-Type", "Retry-After", "x-ms-retry-after-ms", "request-id", "client-request-id",
		"x-ms-resource-unit", "x-ms-throttle-limit-percentage", "x-ms-throttle-scope"} {
		if v := rr.Header().Get(h); v != "" {
			resp.Headers[h] = v
		}
	}
	// JSON bodies are embedded as they are; others (text/plain) as a string.
	if body := rr.Body.Bytes(); strings.HasPrefix(rr.Header().Get("Content-Type"), "application/json") && json.Valid(body) {
		resp.Body = body
	} else {
		resp.Body, _ = json.Marshal(string(body))
	}
	return resp
}
