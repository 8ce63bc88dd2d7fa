package main

import (
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/tenantbridge/tenantbridge/internal/tenantlist"
)

// config is what the handler reads from the app settings. The credential's
// own settings (AZURE_TENANT_ID, AZURE_CLIENT_ID, IDENTITY_ENDPOINT, ...) are
// read by federated.NewFromEnvironment, not here.
type config struct {
	port     string   // FUNCTIONS_CUSTOMHANDLER_PORT, default 8080
	tenants  []string // ALLOWED_TENANTS, lower-cased, de-duplicated, in order
	graphURL string   // GRAPH_URL, "" for graphlite's default (public cloud, v1.0)
}

// configFromEnv reads the app settings through getenv (os.Getenv in main, a
// map in tests).
func configFromEnv(getenv func(string) string) (config, error) {
	c := config{port: getenv("FUNCTIONS_CUSTOMHANDLER_PORT")}
	if c.port == "" {
		c.port = "8080"
	}
	tenants, err := parseTenants(getenv("ALLOWED_TENANTS"))
	if err != nil {
		return config{}, err
	}
	c.tenants = tenants
	if g := getenv("GRAPH_URL"); g != "" {
		u, err := url.Parse(g)
		// azcore's BearerTokenPolicy refuses to send a token over plain http,
		// so an http GRAPH_URL would fail on every request; say so at start.
		if err != nil || u.Scheme != "https" || u.Host == "" {
			return config{}, fmt.Errorf("GRAPH_URL %q must be an https URL such as https://graph.microsoft.com/v1.0", g)
		}
		c.graphURL = strings.TrimRight(g, "/")
	}
	return c, nil
}

// parseTenants splits ALLOWED_TENANTS with tenantlist.Parse (commas,
// semicolons or whitespace: the portal's app settings and azidentity's
// AZURE_ADDITIONALLY_ALLOWED_TENANTS use either). It refuses "*": this app answers for whoever holds the function
// key, so the list of tenants it may read is the one thing an operator must
// decide explicitly.
func parseTenants(v string) ([]string, error) {
	var out []string
	seen := map[string]bool{}
	for _, t := range tenantlist.Parse(v) {
		t = strings.ToLower(t)
		switch {
		case t == "":
			continue
		case t == "*":
			return nil, errors.New(`ALLOWED_TENANTS must list tenant IDs; "*" is not accepted by this app`)
		case seen[t]:
			continue
		}
		seen[t] = true
		out = append(out, t)
	}
	if len(out) == 0 {
		return nil, errors.New("ALLOWED_TENANTS is empty: set it to the tenant IDs this app may read, separated by commas or semicolons")
	}
	return out, nil
}
