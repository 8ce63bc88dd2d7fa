package main

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/tenantbridge/tenantbridge/assertion"
	"github.com/tenantbridge/tenantbridge/fakeidp"
	"github.com/tenantbridge/tenantbridge/federated"
	"github.com/tenantbridge/tenantbridge/graphlite"
)

// The exec tests run this test binary again as fakemsi's child, with
// childRoleEnv naming what the child does. That gives a child written in Go
// that checks its environment the way a user's test suite would, without
// shipping a helper program.
const (
	childRoleEnv = "FAKEMSI_TEST_CHILD"
	childModeEnv = "FAKEMSI_TEST_MODE" // the mode the child expects
	childExitEnv = "FAKEMSI_TEST_EXIT" // the exit code of a successful check
)

// Child roles.
const (
	roleCheck      = "check"       // use the environment end to end, exit with childExitEnv
	roleWaitSignal = "wait-signal" // print "child ready", exit 3 on SIGTERM or SIGINT
	roleKillSelf   = "kill-self"   // die of SIGKILL
)

// childFailure is the exit code of a child whose check failed.
const childFailure = 99

func childMain(role string) int {
	switch role {
	case roleCheck:
		if err := childCheck(); err != nil {
			fmt.Fprintln(os.Stderr, "child: FAIL:", err)
			return childFailure
		}
		code, _ := strconv.Atoi(os.Getenv(childExitEnv))
		fmt.Println("child: environment works")
		return code
	case roleWaitSignal:
		sigs := make(chan os.Signal, 1)
		signal.Notify(sigs, syscall.SIGTERM, os.Interrupt)
		fmt.Println("child ready")
		select {
		case sig := <-sigs:
			fmt.Println("child got", sig)
			return 3
		case <-time.After(cmdTimeout):
			return childFailure
		}
	case roleKillSelf:
		if p, err := os.FindProcess(os.Getpid()); err == nil {
			_ = p.Kill() // SIGKILL on Unix
		}
		select {} // SIGKILL ends the process before anything else happens
	}
	fmt.Fprintln(os.Stderr, "child: unknown role", role)
	return childFailure
}

// childCheck does what a test suite under `fakemsi exec` does: read the
// environment block, get an assertion the platform's way, trade it in each
// remote tenant, and call Graph, trusting the emulator only through
// SSL_CERT_FILE (Go's default roots on Linux).
func childCheck() error {
	mode := os.Getenv(childModeEnv)
	want := map[string][]string{
		modeAppService: {"IDENTITY_ENDPOINT", "IDENTITY_HEADER", "MSI_ENDPOINT", "MSI_SECRET", "WEBSITE_SITE_NAME", "APPSETTING_WEBSITE_SITE_NAME"},
		modeIMDS:       {"AZURE_POD_IDENTITY_AUTHORITY_HOST"},
		modeWorkload:   {"AZURE_FEDERATED_TOKEN_FILE"},
		modeGitHub:     {"ACTIONS_ID_TOKEN_REQUEST_URL", "ACTIONS_ID_TOKEN_REQUEST_TOKEN"},
		modeArc:        {"IDENTITY_ENDPOINT", "IMDS_ENDPOINT", "FAKEMSI_ARC_KEY_DIR"},
	}
	for m, names := range want {
		for _, n := range names {
			if slices.Contains(want[mode], n) {
				continue // IDENTITY_ENDPOINT is App Service's and Arc's
			}
			if set := os.Getenv(n) != ""; set != (m == mode) {
				return fmt.Errorf("%s mode: %s set = %t", mode, n, set)
			}
		}
	}
	for _, n := range want[mode] {
		if os.Getenv(n) == "" {
			return fmt.Errorf("%s mode: %s is not set", mode, n)
		}
	}
	for _, n := range []string{"AZURE_AUTHORITY_HOST", "AZURE_TENANT_ID", "AZURE_CLIENT_ID", "SSL_CERT_FILE", "NODE_EXTRA_CA_CERTS", "FAKEMSI_TENANTS", "FAKEMSI_GRAPH_URL", "TENANTBRIDGE_GRAPH_URL"} {
		if os.Getenv(n) == "" {
			return fmt.Errorf("%s is not set", n)
		}
	}
	// Every client's CA variable names the emulator's bundle, whatever the
	// parent had (TestExecReplacesInheritedVariables sets them all).
	for _, n := range []string{"NODE_EXTRA_CA_CERTS", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"} {
		if os.Getenv(n) != os.Getenv("SSL_CERT_FILE") {
			return fmt.Errorf("%s = %q, want SSL_CERT_FILE's %q", n, os.Getenv(n), os.Getenv("SSL_CERT_FILE"))
		}
	}
	if v, ok := os.LookupEnv("IDENTITY_SERVER_THUMBPRINT"); ok {
		return fmt.Errorf("IDENTITY_SERVER_THUMBPRINT=%q inherited: clients would take App Service for Service Fabric", v)
	}
	if os.Getenv("AZURE_TENANT_ID") != fakeidp.DefaultHomeTenantID || os.Getenv("AZURE_CLIENT_ID") != fakeidp.DefaultAppClientID {
		return errors.New("AZURE_TENANT_ID or AZURE_CLIENT_ID is not the default scenario's")
	}
	if os.Getenv("FAKEMSI_TENANTS") != fakeidp.DefaultConsentedTenantID+","+fakeidp.DefaultUnconsentedTenantID {
		return fmt.Errorf("FAKEMSI_TENANTS = %q, want consented then unconsented", os.Getenv("FAKEMSI_TENANTS"))
	}
	if err := checkPEMFile(os.Getenv("SSL_CERT_FILE"), 2); err != nil {
		return err
	}

	ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
	defer cancel()
	src, err := assertion.FromEnvironment()
	if err != nil {
		return err
	}
	wantSource := map[string]string{modeAppService: "AppService", modeIMDS: "IMDS", modeWorkload: "WorkloadFile", modeGitHub: "GitHubActions", modeArc: "AzureArc"}[mode]
	if !strings.Contains(fmt.Sprint(src), "assertion."+wantSource+"(") {
		return fmt.Errorf("FromEnvironment picked %v in %s mode", src, mode)
	}
	if mode == modeArc {
		// The emulator's challenge keys live in FAKEMSI_ARC_KEY_DIR, not in
		// the agent's directory that the source trusts by default.
		if src, err = assertion.AzureArc(&assertion.AzureArcOptions{KeyDirectory: os.Getenv("FAKEMSI_ARC_KEY_DIR")}); err != nil {
			return err
		}
	}
	cred, err := federated.NewCredential(os.Getenv("AZURE_TENANT_ID"), os.Getenv("AZURE_CLIENT_ID"), src, nil)
	if err != nil {
		return err
	}
	tenants := strings.Split(os.Getenv("FAKEMSI_TENANTS"), ",")
	scope := policy.TokenRequestOptions{Scopes: []string{graphScope}}
	if _, err := cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: scope.Scopes, TenantID: tenants[0]}); err != nil {
		return fmt.Errorf("token in the consented tenant: %w", err)
	}
	// No BaseURL: code written for Azure finds the fake Graph through
	// TENANTBRIDGE_GRAPH_URL.
	gc, err := graphlite.New(cred.ForTenant(tenants[0]), nil)
	if err != nil {
		return err
	}
	n := 0
	for _, err := range gc.Devices(ctx, nil) {
		if err != nil {
			return fmt.Errorf("listing devices: %w", err)
		}
		n++
	}
	if n == 0 {
		return errors.New("the consented tenant has no devices")
	}
	_, err = cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: scope.Scopes, TenantID: tenants[1]})
	var ae *federated.AuthError
	if !errors.As(err, &ae) || !ae.HasCode(fakeidp.CodeAppNotFound) {
		return fmt.Errorf("token in the unconsented tenant: got %v, want AADSTS700016", err)
	}
	return nil
}

// checkPEMFile checks that path holds at least min certificates.
func checkPEMFile(path string, min int) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	n := 0
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			break
		}
		if _, err := x509.ParseCertificate(b.Bytes); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		n++
	}
	if n < min {
		return fmt.Errorf("%s holds %d certificates, want at least %d", path, n, min)
	}
	return nil
}
