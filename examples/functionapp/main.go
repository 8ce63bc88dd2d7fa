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

// run wires the environment to newHandler; everything it decides is tested
// through configFromEnv and newHandler.
func run(log *slog.Logger) error {
	cfg, err := configFromEnv(os.Getenv)
	if err != nil {
		return err
	}
	// One credential for the process: it caches tokens per tenant and
	// shares one managed-identity assertion between them.
	cred, err := federated.NewFromEnvironment(&federated.Options{AdditionallyAllowedTenants: cfg.tenants})
	if err != nil {
		return err
	}
	h, err := newHandler(deps{
		Cred:    cred,
		Tenants: cfg.tenants,
		Graph:   &graphlite.Options{BaseURL: cfg.graphURL},
		Log:     log,
	})
	if err != nil {
		return err
	}
	// The Functions host calls the handler on 127.0.0.1; listening on
	// loopback only keeps the port (which checks no function key) off the
	// network.
	srv := &http.Server{
		Addr:              "127.0.0.1:" + cfg.port,
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
	}
	log.Info("functionapp listening", "addr", srv.Addr, "tenants", len(cfg.tenants))
	if err := srv.ListenAndServe(); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
