#!/usr/bin/env bash
# msgraph-binsize.sh: the size and cold build cost of examples/functionapp
# written on azidentity + msgraph-sdk-go, the Graph SDK people reach for.
#
# MANUAL ONLY: never run by make or CI. It downloads msgraph-sdk-go (a few
# hundred MB of generated code) into a temporary module and builds it with an
# empty build cache, which took 2 min 51 s and 4.4 GB of memory on
# 2026-11-27. It changes nothing in this repository.
#
#   scripts/msgraph-binsize.sh            # latest msgraph-sdk-go
#   MSGRAPH_VERSION=v1.x.y scripts/msgraph-binsize.sh
#
# The program has examples/functionapp's route, ALLOWED_TENANTS check and
# JSON; the Graph listing goes through the SDK's request builders and page
# iterator. If the SDK's API has moved, adjust main.go below.
set -euo pipefail

version=${MSGRAPH_VERSION:-latest}
work=$(mktemp -d)
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT
export CGO_ENABLED=0 GOOS=linux GOARCH=amd64
# A private module and build cache: the build is cold and leaves the user's
# caches alone.
export GOMODCACHE="$work/modcache" GOCACHE="$work/cache" GOFLAGS=-mod=mod

mkdir "$work/app"
cd "$work/app"
go mod init example.com/functionapp-msgraph >/dev/null 2>&1

cat >main.go <<'GO'
// Command functionapp-msgraph is examples/functionapp on azidentity and
// msgraph-sdk-go, for scripts/msgraph-binsize.sh.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	msgraphsdk "github.com/microsoftgraph/msgraph-sdk-go"
	graphcore "github.com/microsoftgraph/msgraph-sdk-go-core"
	"github.com/microsoftgraph/msgraph-sdk-go/devices"
	"github.com/microsoftgraph/msgraph-sdk-go/models"
	"github.com/microsoftgraph/msgraph-sdk-go/models/odataerrors"
)

type device struct {
	ID                            string     `json:"id"`
	AccountEnabled                *bool      `json:"accountEnabled,omitempty"`
	ApproximateLastSignInDateTime *time.Time `json:"approximateLastSignInDateTime,omitempty"`
	DeviceID                      string     `json:"deviceId,omitempty"`
	DisplayName                   string     `json:"displayName,omitempty"`
	IsCompliant                   *bool      `json:"isCompliant,omitempty"`
	IsManaged                     *bool      `json:"isManaged,omitempty"`
	OperatingSystem               string     `json:"operatingSystem,omitempty"`
	OperatingSystemVersion        string     `json:"operatingSystemVersion,omitempty"`
	TrustType                     string     `json:"trustType,omitempty"`
}

type apiError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Tenant  string `json:"tenant,omitempty"`
}

func str(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

func main() {
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	port := os.Getenv("FUNCTIONS_CUSTOMHANDLER_PORT")
	if port == "" {
		port = "8080"
	}
	mi, err := azidentity.NewManagedIdentityCredential(nil)
	if err != nil {
		log.Error("managed identity", "err", err)
		os.Exit(1)
	}
	assertion := func(ctx context.Context) (string, error) {
		tk, err := mi.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{"api://AzureADTokenExchange/.default"}})
		return tk.Token, err
	}
	// A GraphServiceClient cannot pass a tenant per request: one
	// credential and one client per allowed tenant.
	clients := map[string]*msgraphsdk.GraphServiceClient{}
	for _, t := range strings.FieldsFunc(os.Getenv("ALLOWED_TENANTS"), func(r rune) bool { return r == ',' || r == ';' }) {
		t = strings.ToLower(strings.TrimSpace(t))
		if t == "" || t == "*" {
			continue
		}
		cred, err := azidentity.NewClientAssertionCredential(t, os.Getenv("AZURE_CLIENT_ID"), assertion, nil)
		if err != nil {
			log.Error("credential", "err", err)
			os.Exit(1)
		}
		c, err := msgraphsdk.NewGraphServiceClientWithCredentials(cred, []string{"https://graph.microsoft.com/.default"})
		if err != nil {
			log.Error("graph client", "err", err)
			os.Exit(1)
		}
		clients[t] = c
	}
	if len(clients) == 0 {
		log.Error("ALLOWED_TENANTS is empty")
		os.Exit(1)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/devices", func(w http.ResponseWriter, r *http.Request) {
		tenant := strings.ToLower(strings.TrimSpace(r.URL.Query().Get("tenant")))
		c, ok := clients[tenant]
		if !ok {
			writeJSON(w, http.StatusBadRequest, map[string]apiError{"error": {Code: "tenantNotAllowed", Message: fmt.Sprintf("tenant %q is not in ALLOWED_TENANTS", tenant)}})
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), 60*time.Second)
		defer cancel()
		top := int32(999)
		page, err := c.Devices().Get(ctx, &devices.DevicesRequestBuilderGetRequestConfiguration{
			QueryParameters: &devices.DevicesRequestBuilderGetQueryParameters{
				Select: []string{"id", "deviceId", "displayName", "operatingSystem", "operatingSystemVersion", "trustType", "accountEnabled", "isCompliant", "isManaged", "approximateLastSignInDateTime"},
				Top:    &top,
			},
		})
		out := []device{}
		if err == nil {
			var it *graphcore.PageIterator[models.Deviceable]
			it, err = graphcore.NewPageIterator[models.Deviceable](page, c.GetAdapter(), models.CreateDeviceCollectionResponseFromDiscriminatorValue)
			if err == nil {
				err = it.Iterate(ctx, func(d models.Deviceable) bool {
					out = append(out, device{
						ID: str(d.GetId()), DeviceID: str(d.GetDeviceId()), DisplayName: str(d.GetDisplayName()),
						OperatingSystem: str(d.GetOperatingSystem()), OperatingSystemVersion: str(d.GetOperatingSystemVersion()),
						TrustType: str(d.GetTrustType()), AccountEnabled: d.GetAccountEnabled(), IsCompliant: d.GetIsCompliant(),
						IsManaged: d.GetIsManaged(), ApproximateLastSignInDateTime: d.GetApproximateLastSignInDateTime(),
					})
					return len(out) < 10000
				})
			}
		}
		if err != nil {
			status, code := http.StatusBadGateway, "upstreamFailed"
			var oe *odataerrors.ODataError
			var afe *azidentity.AuthenticationFailedError
			switch {
			case errors.As(err, &oe) && oe.ResponseStatusCode == http.StatusForbidden,
				errors.As(err, &afe) && strings.Contains(afe.Error(), "AADSTS700016"):
				status, code = http.StatusForbidden, "consentRequired"
			case errors.As(err, &oe):
				code = "graphError"
			case errors.As(err, &afe):
				code = "authFailed"
			}
			writeJSON(w, status, map[string]apiError{"error": {Code: code, Message: err.Error(), Tenant: tenant}})
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"tenant": tenant, "count": len(out), "devices": out})
	})
	srv := &http.Server{Addr: "127.0.0.1:" + port, Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	log.Error("stopped", "err", srv.ListenAndServe())
	os.Exit(1)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
GO

echo "fetching msgraph-sdk-go@$version and azidentity into a private module cache..." >&2
go get "github.com/microsoftgraph/msgraph-sdk-go@$version" github.com/microsoftgraph/msgraph-sdk-go-core github.com/Azure/azure-sdk-for-go/sdk/azidentity >/dev/null
go mod tidy >/dev/null

# The cold build: empty GOCACHE; /usr/bin/time -v gives the peak memory
# (Maximum resident set size) where it exists.
timer=()
if [ -x /usr/bin/time ] && /usr/bin/time -v true >/dev/null 2>&1; then
	timer=(/usr/bin/time -v -o "$work/time.txt")
fi
start=$(date +%s)
"${timer[@]}" go build -trimpath -ldflags='-s -w' -o "$work/functionapp-msgraph" .
end=$(date +%s)
go build -trimpath -o "$work/functionapp-msgraph.full" .

size() { wc -c <"$1" | tr -d ' '; }
echo "msgraph-sdk-go $(go list -m -f '{{.Version}}' github.com/microsoftgraph/msgraph-sdk-go), $(go version)"
echo "-s -w:        $(size "$work/functionapp-msgraph") bytes"
echo "without -s -w: $(size "$work/functionapp-msgraph.full") bytes"
echo "cold build:   $((end - start)) s (-s -w build, empty GOCACHE)"
if [ -f "$work/time.txt" ]; then
	grep -E 'Maximum resident set size|Elapsed' "$work/time.txt"
fi
