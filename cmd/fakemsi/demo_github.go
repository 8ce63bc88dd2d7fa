package main

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/tenantbridge/tenantbridge/assertion"
	"github.com/tenantbridge/tenantbridge/emulator"
	"github.com/tenantbridge/tenantbridge/fakeidp"
	"github.com/tenantbridge/tenantbridge/federated"
)

// demoOtherBranch is the branch of the job the app does not trust.
const demoOtherBranch = "refs/heads/feature/inventory-v2"

// otherBranch runs the GitHub job of the scenario again from another branch
// and shows Entra refusing it with AADSTS700213, naming the subject the
// app's federated credential expects. It reports whether Entra refused.
func (d *demo) otherBranch(ctx context.Context, t emulator.RemoteTenant) (bool, string, error) {
	e := d.e
	var gh fakeidp.ExternalIssuer
	for _, is := range e.IDP().Scenario().Issuers {
		if is.Kind == fakeidp.IssuerKindGitHub {
			gh = is
			break
		}
	}
	run := fakeidp.GitHubRun{Repository: gh.Repository, Ref: demoOtherBranch}
	d.printf("\nStep 4. The same workflow, run from branch %s\n", strings.TrimPrefix(run.Ref, "refs/heads/"))
	tok, err := e.IDP().IssueGitHubToken(gh.Name, run, e.IDP().Cloud().TokenExchangeAudience, 0)
	if err != nil {
		return false, "", fmt.Errorf("step 4: %w", err)
	}
	d.printf("  GitHub gives the job a token whose claims are:\n")
	if err := d.printClaims("    ", tok, "iss", "sub", "ref", "aud"); err != nil {
		return false, "", fmt.Errorf("step 4: %w", err)
	}
	cred, err := federated.NewCredential(d.tn.Home.ID, d.tn.App.ClientID, assertion.Static(tok), &federated.Options{
		ClientOptions: azcore.ClientOptions{
			Cloud:     cloud.Configuration{ActiveDirectoryAuthorityHost: e.AuthorityHost()},
			Transport: e.Client(),
		},
		AdditionallyAllowedTenants: []string{"*"},
	})
	if err != nil {
		return false, "", fmt.Errorf("step 4: %w", err)
	}
	_, err = cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{graphScope}, TenantID: t.ID})
	label := fmt.Sprintf("GitHub job on %s", run.Ref)
	var ae *federated.AuthError
	if !errors.As(err, &ae) || !ae.HasCode(700213) {
		d.printf("  UNEXPECTED: %v\n", oneLine(fmt.Sprint(err)))
		return false, label + ": UNEXPECTED: not refused with AADSTS700213", nil
	}
	d.printf("  Entra answered HTTP %d %s, AADSTS%s\n", ae.StatusCode, ae.Code, codes(ae.ErrorCodes))
	d.printf("  %s\n", ae.Message)
	for _, f := range d.tn.App.FederatedCredentials {
		if f.Issuer == e.IDP().IssuerURL(gh.Name) {
			d.printf("  Entra expected the subject %s (federated credential %q); the job presented %s.\n", f.Subject, f.Name, run.Subject())
		}
	}
	d.printf("  Hint: %s\n", ae.Hint)
	return true, label + ": refused with AADSTS700213, as expected (the app trusts another branch)", nil
}
