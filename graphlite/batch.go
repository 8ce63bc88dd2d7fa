package graphlite

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/tenantbridge/tenantbridge/internal/leak"
)

// MaxBatchRequests is Graph's limit of requests in one $batch
// (learn.microsoft.com/graph/json-batching).
const MaxBatchRequests = 20

// BatchRequest is one GET inside a $batch.
type BatchRequest struct {
	// ID identifies the request in the responses; empty means its position
	// counted from 1.
	ID string
	// Path is relative to the base URL's version, e.g. "/devices/ID".
	Path  string
	Query url.Values
	// Header holds extra headers, e.g. ConsistencyLevel.
	Header map[string]string
}

// BatchResponse is the answer to one [BatchRequest].
type BatchResponse struct {
	ID      string
	Status  int
	Headers map[string]string
	// Body is the response body as Graph embeds it (JSON; a text answer is a
	// JSON string).
	Body json.RawMessage
}

// Err returns the *[Error] of a failed response (status 400 or more), else nil.
func (r BatchResponse) Err() error {
	if r.Status < 400 {
		return nil
	}
	resp := &http.Response{StatusCode: r.Status, Header: r.header(), Body: http.NoBody}
	if len(r.Body) > 0 {
		resp.Body = readCloser{strings.NewReader(string(r.Body))}
	}
	e := newError(resp, http.MethodGet)
	e.Path = "$batch/" + r.ID
	return e
}

type readCloser struct{ *strings.Reader }

func (readCloser) Close() error { return nil }

// batchOnce sends one POST {BaseURL}/$batch; see [Client.Batch].
func (c *Client) batchOnce(ctx context.Context, reqs []BatchRequest) ([]BatchResponse, error) {
	if len(reqs) == 0 || len(reqs) > MaxBatchRequests {
		return nil, fmt.Errorf("graphlite: a batch holds 1 to %d requests, not %d", MaxBatchRequests, len(reqs))
	}
	type wireReq struct {
		ID      string            `json:"id"`
		Method  string            `json:"method"`
		URL     string            `json:"url"`
		Headers map[string]string `json:"headers,omitempty"`
	}
	in := struct {
		Requests []wireReq `json:"requests"`
	}{}
	pos := map[string]int{}
	for i, r := range reqs {
		id := r.ID
		if id == "" {
			id = strconv.Itoa(i + 1)
		}
		if _, dup := pos[id]; dup {
			return nil, fmt.Errorf("graphlite: batch request id %q is used twice", id)
		}
		if strings.Contains(r.Path, "://") {
			return nil, errors.New("graphlite: a batch request path is relative to the base URL")
		}
		pos[id] = i
		u := "/" + strings.TrimLeft(r.Path, "/")
		if q := encodeQuery(r.Query); q != "" {
			u += "?" + q
		}
		in.Requests = append(in.Requests, wireReq{ID: id, Method: http.MethodGet, URL: u, Headers: r.Header})
	}
	body, err := json.Marshal(in)
	if err != nil {
		return nil, fmt.Errorf("graphlite: batch: %w", err)
	}
	resp, err := c.send(ctx, http.MethodPost, c.baseStr+"/$batch", body)
	if err != nil {
		return nil, err
	}
	defer closeBody(resp.Body)
	var out struct {
		Responses []struct {
			ID      string            `json:"id"`
			Status  int               `json:"status"`
			Headers map[string]string `json:"headers"`
			Body    json.RawMessage   `json:"body"`
		} `json:"responses"`
	}
	if err := decodeArray(c.readBody(resp.Body), "responses", &out.Responses, len(reqs)); err != nil {
		return nil, fmt.Errorf("graphlite: batch: decode response: %w", err)
	}
	// Graph answers in any order; put the responses back in request order.
	res := make([]BatchResponse, len(reqs))
	seen := 0
	for _, r := range out.Responses {
		i, ok := pos[r.ID]
		if !ok || res[i].ID != "" {
			return nil, fmt.Errorf("graphlite: batch: unexpected response id %q", leak.Clip(r.ID, maxIDText))
		}
		res[i] = BatchResponse{ID: r.ID, Status: r.Status, Headers: r.Headers, Body: r.Body}
		if r.Status >= 400 {
			scrubBatchError(&res[i], resp)
		}
		seen++
	}
	if seen != len(reqs) {
		return nil, fmt.Errorf("graphlite: batch: %d responses for %d requests", seen, len(reqs))
	}
	return res, nil
}
