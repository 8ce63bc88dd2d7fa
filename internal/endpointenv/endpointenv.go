// Package endpointenv is the one reading of a service endpoint that may come
// from an environment variable (graphlite's TENANTBRIDGE_GRAPH_URL,
// federated's TENANTBRIDGE_ARM_URL), in the spirit of the AWS SDKs'
// AWS_ENDPOINT_URL: an https URL with a host and nothing that could hide
// where tokens go (no user, query or fragment), or an error. A bad value is
// never replaced by a default: the caller fails, so that a typo cannot send
// production traffic somewhere unnoticed.
package endpointenv

import (
	"fmt"
	"net/url"
	"os"
	"strings"

	"github.com/tenantbridge/tenantbridge/internal/leak"
)

// Parse checks raw, which came from source (an option's or a variable's
// name, for the error), and returns it without trailing slashes.
func Parse(source, raw string) (*url.URL, error) {
	u, err := url.Parse(strings.TrimRight(raw, "/"))
	if err != nil || u.Scheme != "https" || u.Host == "" || u.RawQuery != "" || u.ForceQuery ||
		u.User != nil || u.Fragment != "" || u.Opaque != "" || strings.TrimSpace(raw) != raw {
		shown := raw
		if err == nil && u.User != nil {
			shown = u.Redacted()
		}
		return nil, fmt.Errorf("%s %q must be an https URL with a host and without a query, user or fragment", source, leak.Clip(shown, 200))
	}
	return u, nil
}

// Lookup reads the variable name: (nil, nil) when it is unset, an error
// when it is set but not a valid endpoint (empty included: a variable set
// to nothing is a mistake, not a request for the default).
func Lookup(name string) (*url.URL, error) {
	v, ok := os.LookupEnv(name)
	if !ok {
		return nil, nil
	}
	if strings.TrimSpace(v) == "" {
		return nil, fmt.Errorf("%s is set but empty; unset it to use the default endpoint", name)
	}
	return Parse(name, v)
}
