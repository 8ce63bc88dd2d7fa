package emulator_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/tenantbridge/tenantbridge/assertion"
	"github.com/tenantbridge/tenantbridge/emulator"
	"github.com/tenantbridge/tenantbridge/federated"
	"github.com/tenantbridge/tenantbridge/internal/jwtpeek"
)

// TestEnvApplyInProcess sets each mode's block with t.Setenv and lets
// federated.NewFromEnvironment find everything there, as code on an Azure
// host does: the platform's assertion source, the authority, the tenants.
// Only the transport is given, since Go reads SSL_CERT_FILE once per process.
func TestEnvApplyInProcess(t *testing.T) {
	for _, mode := range emulator.Modes() {
		t.Run(string(mode), func(t *testing.T) {
			emu, err := emulator.Start(&emulator.Options{Mode: mode})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(emu.Close)
			// Variables of the other modes, from the machine or an earlier
			// subtest, must not steer detection.
			for _, d := range emulator.VarDocs() {
				t.Setenv(d.Name, "")
			}
			emu.Env().Apply(t.Setenv)

			opts := &federated.Options{ClientOptions: azcore.ClientOptions{Transport: emu.Client()}}
			var cred *federated.Credential
			if mode == emulator.ModeArc {
				// FromEnvironment detects Arc, but its source trusts key
				// files only in the agent's directory; the emulator's is
				// FAKEMSI_ARC_KEY_DIR, given as the source's option.
				src, err := assertion.FromEnvironment()
				if err != nil || !strings.Contains(fmt.Sprint(src), "AzureArc") {
					t.Fatalf("FromEnvironment = %v, %v; want AzureArc", src, err)
				}
				arc, err := assertion.AzureArc(&assertion.AzureArcOptions{KeyDirectory: os.Getenv("FAKEMSI_ARC_KEY_DIR")})
				if err != nil {
					t.Fatal(err)
				}
				cred, err = federated.NewCredential(os.Getenv("AZURE_TENANT_ID"), os.Getenv("AZURE_CLIENT_ID"), arc, opts)
				if err != nil {
					t.Fatal(err)
				}
			} else {
				cred, err = federated.NewFromEnvironment(opts)
				if err != nil {
					t.Fatal(err)
				}
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			consented := emu.Tenancy().Remotes[0].ID
			tok, err := cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{"https://graph.microsoft.com/.default"}, TenantID: consented})
			if err != nil {
				t.Fatalf("GetToken in %s: %v", consented, err)
			}
			var c struct{ Tid string }
			if err := jwtpeek.Claims(tok.Token, &c); err != nil || c.Tid != consented {
				t.Errorf("token tid %q (%v), want %s", c.Tid, err, consented)
			}
		})
	}
}
