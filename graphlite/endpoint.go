package graphlite

import (
	"fmt"
	"net/url"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/log"

	"github.com/tenantbridge/tenantbridge/internal/endpointenv"
)

// EnvGraphURL names the environment variable that [New] reads for the base
// URL when [Options].BaseURL is empty, in the spirit of the AWS SDKs'
// AWS_ENDPOINT_URL: `fakemsi exec` sets it to the fake Graph, so a program
// written for Azure runs unchanged under the emulator. An explicit BaseURL
// wins over it. Its value must be an https URL with a host and no query, user
// or fragment; anything else (an empty value too) makes New fail rather than
// fall back, so that a typo never silently sends tokens somewhere else.
// Which endpoint is in use is logged (see [EventGraph]).
const EnvGraphURL = "TENANTBRIDGE_GRAPH_URL"

// EventGraph is the [log.Event] of this package's own entries to
// [Options].Logger: which Graph endpoint a client uses and where it came
// from. No entry contains a token.
const EventGraph log.Event = "Graph"

// baseURL picks the base URL: the option, else EnvGraphURL, else fallback
// (the Graph of the client's cloud, [BaseURLForCloud]); it reports the choice
// to logger.
func baseURL(option, fallback string, logger func(log.Event, string)) (*url.URL, error) {
	var u *url.URL
	var err error
	from := "Options.BaseURL"
	switch {
	case option != "":
		u, err = endpointenv.Parse("BaseURL", option)
	default:
		from = EnvGraphURL
		u, err = endpointenv.Lookup(EnvGraphURL)
		if err == nil && u == nil {
			from = "the default of ClientOptions.Cloud"
			u, err = endpointenv.Parse("DefaultBaseURL", fallback)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("graphlite: %w", err)
	}
	if logger != nil {
		logger(EventGraph, fmt.Sprintf("graphlite: Graph endpoint %s (from %s)", u, from))
	}
	return u, nil
}
