package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"strings"
	"time"
)

type config struct {
	tenants       []string
	format        string // "jsonl" or "csv"
	output        string // "" or "-": stdout
	parallelism   int
	tenantTimeout time.Duration
	deltaState    string
	graphURL      string // "" means graphlite's default
	progress      string // "auto", "on", "off"
}

var errHelp = errors.New("help")

// tenantVars are the environment variables that may list the tenants, in
// the order they are read.
var tenantVars = []string{"ALLOWED_TENANTS", "AZURE_ADDITIONALLY_ALLOWED_TENANTS", "FAKEMSI_TENANTS"}

func parseConfig(args []string, getenv func(string) string, stderr io.Writer) (config, error) {
	fs := flag.NewFlagSet("inventory", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c config
	tenants := fs.String("tenants", "", "tenant IDs, separated by commas or semicolons (default: "+strings.Join(tenantVars, ", then ")+")")
	fs.StringVar(&c.format, "format", "jsonl", "output format: jsonl (one JSON object per device) or csv")
	fs.StringVar(&c.output, "o", "", "output file (default stdout)")
	fs.IntVar(&c.parallelism, "parallelism", 32, "tenants read at once")
	fs.DurationVar(&c.tenantTimeout, "tenant-timeout", 5*time.Minute, "bound of one tenant's listing")
	fs.StringVar(&c.deltaState, "delta-state", "", "file of delta links: with it, later runs write only the changes")
	fs.StringVar(&c.graphURL, "graph-url", "", "Graph base URL with the version (default: graphlite's: TENANTBRIDGE_GRAPH_URL, else https://graph.microsoft.com/v1.0)")
	fs.StringVar(&c.progress, "progress", "auto", "progress on stderr: auto (a bar on a terminal, lines otherwise), on, off")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return c, errHelp
		}
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	switch c.format {
	case "jsonl", "csv":
	default:
		return c, fmt.Errorf("-format %q: use jsonl or csv", c.format)
	}
	switch c.progress {
	case "auto", "on", "off":
	default:
		return c, fmt.Errorf("-progress %q: use auto, on or off", c.progress)
	}
	if c.parallelism < 1 {
		return c, errors.New("-parallelism must be at least 1")
	}
	if c.graphURL != "" {
		u, err := url.Parse(c.graphURL)
		if err != nil || u.Scheme != "https" || u.Host == "" {
			return c, fmt.Errorf("-graph-url %q must be an https URL such as https://graph.microsoft.com/v1.0", c.graphURL)
		}
	}
	src, list := "-tenants", *tenants
	for _, v := range tenantVars {
		if list != "" {
			break
		}
		if x := getenv(v); x != "" && strings.TrimSpace(x) != "*" {
			src, list = v, x
		}
	}
	var err error
	if c.tenants, err = parseTenants(list); err != nil {
		return c, fmt.Errorf("%s: %w", src, err)
	}
	return c, nil
}

// parseTenants splits a list on commas and semicolons (the portal's app
// settings and azidentity's AZURE_ADDITIONALLY_ALLOWED_TENANTS use either),
// lower-cases and de-duplicates it. "*" is refused: a sweep needs names.
func parseTenants(v string) ([]string, error) {
	var out []string
	seen := map[string]bool{}
	for _, t := range strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ';' }) {
		t = strings.ToLower(strings.TrimSpace(t))
		switch {
		case t == "" || seen[t]:
			continue
		case t == "*":
			return nil, errors.New(`"*" cannot be swept: list the tenant IDs`)
		case strings.ContainsAny(t, "/?#% \t"):
			return nil, fmt.Errorf("%q is not a tenant ID", t)
		}
		seen[t] = true
		out = append(out, t)
	}
	if len(out) == 0 {
		return nil, errors.New("no tenants: set -tenants or " + strings.Join(tenantVars, ", "))
	}
	return out, nil
}
