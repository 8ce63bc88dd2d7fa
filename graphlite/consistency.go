package graphlite

import (
	"context"
	"net/http"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
)

type eventualKey struct{}

// WithEventualConsistency returns a context under which every request, and so
// every page of a [List], carries the header ConsistencyLevel: eventual, which
// Graph requires for its "advanced queries" on directory objects ($count,
// $search, ne, not, endsWith; learn.microsoft.com/graph/aad-advanced-queries).
// A request whose query has $count=true or $search gets the header anyway.
func WithEventualConsistency(ctx context.Context) context.Context {
	return context.WithValue(ctx, eventualKey{}, true)
}

// consistencyPolicy sets ConsistencyLevel on each request that needs it. It
// is a policy rather than a header set once, so that the nextLink pages of a
// List get it too: Graph's nextLink does not remember it.
type consistencyPolicy struct{}

func (consistencyPolicy) Do(req *policy.Request) (*http.Response, error) {
	raw := req.Raw()
	if raw.Context().Value(eventualKey{}) != nil || needsEventual(raw.URL.Query()) {
		raw.Header.Set("ConsistencyLevel", "eventual")
	}
	return req.Next()
}

func needsEventual(q map[string][]string) bool {
	for k, vs := range q {
		switch strings.ToLower(k) {
		case "$search":
			return true
		case "$count":
			for _, v := range vs {
				if strings.EqualFold(v, "true") {
					return true
				}
			}
		}
	}
	return false
}
