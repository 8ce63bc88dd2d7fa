package interop

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/tenantbridge/tenantbridge/emulator"
	"github.com/tenantbridge/tenantbridge/fakeidp"
)

// emu is the one emulator of this test binary (see the package doc for why
// there is only one), and srv its Entra and managed-identity server.
var (
	emu *emulator.Emulator
	srv *fakeidp.Server
)

// IDs the interop scenario adds to fakeidp.DefaultScenario.
const (
	// wrongSubjectAppID trusts the home tenant's issuer, but for a subject
	// that is no identity of the Function App: Entra answers 700213.
	wrongSubjectAppID = "dddddddd-0000-0000-0000-000000000001"
	// caseSubjectAppID trusts the system identity's object ID in upper case:
	// Entra compares subjects case-sensitively, so this is 700213 too.
	caseSubjectAppID = "dddddddd-0000-0000-0000-000000000002"
	// strangerIssuer is an external issuer hosted by the fake that no
	// federated credential trusts: Entra answers 700211.
	strangerIssuer = "stranger"
	// unknownTenantID exists nowhere: Entra answers 90002.
	unknownTenantID = "99999999-9999-9999-9999-999999999999"
)

// childEnv, when set, makes the test binary run one child program instead of
// its tests (see child_test.go). Tests re-execute the binary this way when
// they need a fresh process, e.g. for SSL_CERT_FILE, which Go reads once.
const childEnv = "TENANTBRIDGE_INTEROP_CHILD"

func TestMain(m *testing.M) {
	if mode := os.Getenv(childEnv); mode != "" {
		os.Exit(runChild(mode))
	}
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	// The ambient environment must not steer azidentity elsewhere: only the
	// variables this binary sets below describe the platform.
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); isPlatformVar(k) && !strings.HasPrefix(k, "SSL_CERT_") {
			os.Unsetenv(k)
		}
	}
	var err error
	emu, err = emulator.Start(&emulator.Options{Scenario: interopScenario()})
	if err != nil {
		fmt.Fprintln(os.Stderr, "interop: starting the emulator:", err)
		return 1
	}
	defer emu.Close()
	srv = emu.IDP()
	// App Service / Functions: what azidentity's ManagedIdentityCredential
	// detects. Set once for the process because MSAL reads them at
	// construction and caches managed-identity tokens process-wide anyway.
	// Only these two: the rest of the block (AZURE_ADDITIONALLY_ALLOWED_TENANTS=*
	// above all) would change what the in-process tests check; children get
	// the whole block (childEnvironment).
	os.Setenv("IDENTITY_ENDPOINT", emu.AppServiceEndpoint())
	os.Setenv("IDENTITY_HEADER", emu.IdentityHeader())
	return m.Run()
}

// interopScenario is the default scenario plus the misconfigurations that need
// scenario data rather than a crafted assertion.
func interopScenario() *fakeidp.Scenario {
	sc := fakeidp.DefaultScenario()
	home := fakeidp.DefaultHomeTenantID
	homeIssuer := fakeidp.AuthorityPlaceholder + "/" + home + "/v2.0"
	for _, a := range []struct{ id, subject string }{
		{wrongSubjectAppID, "eeeeeeee-0000-0000-0000-000000000001"},
		{caseSubjectAppID, strings.ToUpper(fakeidp.DefaultSystemIdentityObjectID)},
	} {
		sc.Apps = append(sc.Apps, fakeidp.App{
			ClientID:    a.id,
			DisplayName: "misconfigured " + a.id,
			HomeTenant:  home,
			MultiTenant: true,
			AppRoles:    []fakeidp.AppRole{{ID: fakeidp.DeviceReadAllRoleID, Value: "Device.Read.All"}},
			FederatedCredentials: []fakeidp.FederatedCredential{{
				Name: "function-app", Issuer: homeIssuer, Subject: a.subject,
				Audiences: []string{fakeidp.TokenExchangeAudience},
			}},
		})
		sc.Consents = append(sc.Consents, fakeidp.Consent{Tenant: fakeidp.DefaultConsentedTenantID, ClientID: a.id, Roles: []string{"Device.Read.All"}})
	}
	sc.Issuers = append(sc.Issuers, fakeidp.ExternalIssuer{Name: strangerIssuer})
	return sc
}
