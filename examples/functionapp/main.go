// Command functionapp is an Azure Functions custom handler that lists the
// devices of another Microsoft Entra tenant, with no secret anywhere: the Function
// App's managed identity is traded for a token of a multi-tenant app in the
// tenant named by the request (workload identity federation).
//
//	GET /api/devices?tenant={tenant ID}
//
// See README.md for the app settings, building and deployment.
package main

import (
	"errors"
	"log/slog"
	"net/http"
	"os"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/tenantbridge/tenantbridge/federated"
	"github.com/tenantbridge/tenantbridge/graphlite"
)

func main() {
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	if err := run(log); err != nil {
		log.Error("functionapp stopped", "err", err)
		os.Exit(1)
	}
}

// run reads the app settings and serves until the process is stopped.
func run(log *slog.Logger) error {
	cfg, err := configFromEnv(os.Getenv)
	if err != nil {
		return err
	}
	srv, err := newServer(cfg, nil, nil, log)
	if err != nil {
		return err
	}
	log.Info("functionapp listening", "addr", srv.Addr, "tenants", len(cfg.tenants))
	if err := srv.ListenAndServe(); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// newServer wires the settings to newHandler. entra and graph replace the
// HTTP transports to Entra and Graph; nil (production) means the defaults.
// The credential's own settings (AZURE_TENANT_ID, AZURE_CLIENT_ID,
// IDENTITY_ENDPOINT, ...) come from the environment.
func newServer(cfg config, entra, graph policy.Transporter, log *slog.Logger) (*http.Server, error) {
	// One credential for the process: it caches tokens per tenant and
	// shares one managed-identity assertion between them.
	credOpts := &federated.Options{AdditionallyAllowedTenants: cfg.tenants}
	credOpts.Transport = entra
	cred, err := federated.NewFromEnvironment(credOpts)
	if err != nil {
		return nil, err
	}
	graphOpts := &graphlite.Options{BaseURL: cfg.graphURL}
	graphOpts.Transport = graph
	h, err := newHandler(deps{Cred: cred, Tenants: cfg.tenants, Graph: graphOpts, Log: log})
	if err != nil {
		return nil, err
	}
	// The Functions host calls the handler on 127.0.0.1; listening on
	// loopback only keeps the port (which checks no function key) off the
	// network.
	return &http.Server{
		Addr:              "127.0.0.1:" + cfg.port,
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
	}, nil
}
