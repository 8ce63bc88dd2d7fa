package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/tenantbridge/tenantbridge/assertion"
	"github.com/tenantbridge/tenantbridge/emulator"
	"github.com/tenantbridge/tenantbridge/fakeidp"
	"github.com/tenantbridge/tenantbridge/federated"
	"github.com/tenantbridge/tenantbridge/graphlite"
)

const demoAbout = `
Run the problem tenantbridge solves, end to end, against the emulator, with
no Azure account: a Function App's managed identity yields an assertion; the
assertion is traded with federated for a Microsoft Graph token in each
remote tenant of the app; graphlite lists that tenant's devices. The tenant
that has not consented to the app answers AADSTS700016, and the demo
explains it. Tokens are never printed, only their non-secret claims.

With --mode github the assertion is a GitHub Actions job's OIDC token, and
the demo then runs the same job on another branch, which the app's federated
credential does not trust: Entra refuses it with AADSTS700213, and the demo
names the subject the credential expects. With --cloud usgov (or china) the
built-in scenario is set in that cloud: the assertion must carry the cloud's
token-exchange audience (api://AzureADTokenExchangeUSGov), as there.

Exit status 0 means the flow behaved as the scenario says: consented tenants
returned their devices (or a 403 from Graph when the consent grants no
permission that reads devices), the others were refused with AADSTS700016.`

// graphScope is the scope of an app-only Graph token.
const graphScope = "https://graph.microsoft.com/.default"

// demoTimeout bounds the whole demo: it talks to loopback servers only, so
// anything slower is a hang worth reporting rather than waiting for.
const demoTimeout = 2 * time.Minute

func runDemo(a *app, args []string) error {
	fs := newFlagSet("demo")
	configFile := fs.String("config", "", "run on the scenario of config `FILE` instead of the built-in one")
	mode := fs.String("mode", "", "platform whose identity yields the assertion: "+modeNames()+" (default appservice, or the config's options.mode)")
	cloudName := fs.String("cloud", "", "set the built-in scenario in a Microsoft cloud: "+cloudNames()+" (default public; a config sets its own \"cloud\")")
	if err := parseFlags(a, fs, "[--config FILE] [--mode MODE] [--cloud CLOUD]", demoAbout, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q", fs.Arg(0))
	}
	if *mode != "" && !emulator.Mode(*mode).Valid() {
		return usagef("--mode: %q is not one of %s", *mode, modeNames())
	}
	cfg, err := loadConfig(*configFile)
	if err != nil {
		return err
	}
	// Loopback and free ports whatever the config says: the demo is one
	// process talking to itself.
	opts := optionsFromConfig(cfg)
	if *mode != "" {
		opts.Mode = emulator.Mode(*mode)
	}
	if *cloudName != "" {
		if *configFile != "" {
			return usagef("--cloud sets the built-in scenario's cloud; a config sets \"cloud\" in its scenario instead")
		}
		if opts.Scenario, err = fakeidp.DefaultScenarioIn(*cloudName); err != nil {
			return usagef("--cloud: %q is not one of %s", *cloudName, cloudNames())
		}
	}
	e, err := startEmulator(opts)
	if err != nil {
		return err
	}
	defer e.Close()

	ctx, cancel := context.WithTimeout(context.Background(), demoTimeout)
	defer cancel()
	d := &demo{e: e, tn: e.Tenancy(), out: a.stdout}
	ok, err := d.run(ctx)
	if err != nil {
		return err
	}
	if !ok {
		return exitCode(exitFailure)
	}
	return nil
}

// demo is one run of the flow; it prints as it goes.
type demo struct {
	e   *emulator.Emulator
	tn  emulator.Tenancy
	out io.Writer
}

func (d *demo) printf(format string, args ...any) { fmt.Fprintf(d.out, format, args...) }

// run prints the steps and reports whether every tenant behaved as the
// scenario says. An error means the demo itself could not run.
func (d *demo) run(ctx context.Context) (bool, error) {
	e, tn := d.e, d.tn
	d.printf("tenantbridge demo: a managed identity gets Microsoft Graph tokens in other tenants, with no secret anywhere.\n\n")
	d.printf("Emulator (loopback only, nothing leaves this machine):\n")
	w := tabwriter.NewWriter(d.out, 2, 8, 2, ' ', 0)
	fmt.Fprintf(w, "  Entra authority\t%s\n", e.AuthorityHost())
	fmt.Fprintf(w, "  managed identity\t%s\n", d.identityEndpoint())
	fmt.Fprintf(w, "  Microsoft Graph\t%s\n", e.GraphURL())
	fmt.Fprintf(w, "  home tenant\t%s  %s\n", tn.Home.ID, tn.Home.DisplayName)
	fmt.Fprintf(w, "  app registration\t%s  %q (multi-tenant: %t)\n", tn.App.ClientID, tn.App.DisplayName, tn.App.MultiTenant)
	cl := e.IDP().Cloud()
	if cl.Name != fakeidp.CloudPublic {
		fmt.Fprintf(w, "  cloud\t%s: Entra %s, Graph %s, token exchange %s (served here on loopback)\n", cl.Name, cl.AuthorityHost, cl.GraphHost, cl.TokenExchangeAudience)
	}
	w.Flush()

	// Step 1.
	d.printf("\nStep 1. Get an assertion (a JWT for %s) from the workload's identity\n", cl.TokenExchangeAudience)
	src, how, err := d.detectSource()
	if err != nil {
		return false, fmt.Errorf("step 1: %w", err)
	}
	d.printf("  assertion.FromEnvironment picked: %s\n", how)
	if cl.Name != fakeidp.CloudPublic {
		d.printf("  (AZURE_AUTHORITY_HOST is %s, as in the %s cloud, so the source asks for %s)\n", cl.AuthorityHost, cl.Name, cl.TokenExchangeAudience)
	}
	// Cached, so that the credential below reuses this assertion for every
	// tenant instead of asking the identity endpoint again.
	src = assertion.Cached(src)
	before := len(e.IDP().Requests())
	start := time.Now()
	asn, err := src.Assertion(ctx)
	took := time.Since(start)
	if err != nil {
		d.printf("  FAILED in %s (%s): %s\n", round(took), trips(len(e.IDP().Requests())-before), oneLine(err.Error()))
		d.printf("\nResult:\nFAILED: without an assertion there is no token in any tenant.\n")
		return false, nil
	}
	d.printf("  got an assertion in %s (%s); its claims, never the token:\n", round(took), trips(len(e.IDP().Requests())-before))
	if err := d.printClaims("    ", asn.Token, "iss", "sub", "aud", "tid", "exp"); err != nil {
		return false, fmt.Errorf("step 1: %w", err)
	}

	cred, err := federated.NewCredential(tn.Home.ID, tn.App.ClientID, src, &federated.Options{
		ClientOptions: azcore.ClientOptions{
			Cloud:     cloud.Configuration{ActiveDirectoryAuthorityHost: e.AuthorityHost()},
			Transport: e.Client(),
		},
		// The app is multi-tenant: its credential may ask any tenant.
		AdditionallyAllowedTenants: []string{"*"},
	})
	if err != nil {
		return false, fmt.Errorf("step 2: %w", err)
	}

	targets := tn.Remotes
	if len(targets) == 0 {
		// A scenario with the home tenant only still shows the flow.
		targets = []emulator.RemoteTenant{{Tenant: tn.Home, Consented: true, Roles: tn.HomeRoles}}
	}
	allOK := true
	var summary []string
	for _, t := range targets {
		ok, line := d.tenant(ctx, cred, t)
		allOK = allOK && ok
		summary = append(summary, line)
	}
	if e.Mode() == emulator.ModeGitHub {
		ok, line, err := d.otherBranch(ctx, targets[0])
		if err != nil {
			return false, err
		}
		allOK = allOK && ok
		summary = append(summary, line)
	}

	d.printf("\nResult:\n")
	for _, l := range summary {
		d.printf("  %s\n", l)
	}
	if allOK {
		d.printf("OK: every tenant behaved as the scenario says.\n")
	} else {
		d.printf("FAILED: the flow did not behave as the scenario says (see above).\n")
	}
	return allOK, nil
}

// tenant runs steps 2 and 3 for one tenant and reports whether the outcome
// matches the scenario, with a summary line.
func (d *demo) tenant(ctx context.Context, cred *federated.Credential, t emulator.RemoteTenant) (bool, string) {
	e, app := d.e, d.tn.App
	expect := "no admin consent: Entra must refuse"
	if t.Consented {
		expect = "consented, " + rolesOrNone(t.Roles)
	}
	d.printf("\nTenant %q %s  [scenario: %s]\n", t.DisplayName, t.ID, expect)

	d.printf("Step 2. Trade the assertion for a Graph token at this tenant's token endpoint\n")
	d.printf("  POST %s/%s/oauth2/v2.0/token  client_id=%s  scope=%s\n", e.AuthorityHost(), t.ID, app.ClientID, graphScope)
	tc := cred.ForTenant(t.ID)
	before := len(e.IDP().Requests())
	start := time.Now()
	tok, err := tc.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{graphScope}})
	took := time.Since(start)
	rt := trips(len(e.IDP().Requests()) - before)
	if err != nil {
		var ae *federated.AuthError
		if !errors.As(err, &ae) {
			d.printf("  FAILED in %s (%s): %s\n", round(took), rt, oneLine(err.Error()))
			return false, fmt.Sprintf("%s: UNEXPECTED: token request failed without an Entra answer", t.DisplayName)
		}
		d.printf("  Entra answered HTTP %d %s, AADSTS%s in %s (%s)\n", ae.StatusCode, ae.Code, codes(ae.ErrorCodes), round(took), rt)
		if ae.HasCode(fakeidp.CodeAppNotFound) {
			d.explain700016(ae)
		} else {
			d.printf("  %s\n", ae.Message)
			if ae.Hint != "" {
				d.printf("  Hint: %s\n", ae.Hint)
			}
		}
		d.printf("Step 3. Skipped: no token for this tenant.\n")
		if !t.Consented && ae.HasCode(fakeidp.CodeAppNotFound) {
			return true, fmt.Sprintf("%s: refused with AADSTS700016, as expected (no admin consent)", t.DisplayName)
		}
		return false, fmt.Sprintf("%s: UNEXPECTED: AADSTS%s", t.DisplayName, codes(ae.ErrorCodes))
	}
	d.printf("  got a token in %s (%s); its claims:\n", round(took), rt)
	if err := d.printClaims("    ", tok.Token, "aud", "tid", "roles", "exp"); err != nil {
		d.printf("  FAILED: %s\n", err)
		return false, fmt.Sprintf("%s: UNEXPECTED: unreadable token", t.DisplayName)
	}
	if !t.Consented {
		return false, fmt.Sprintf("%s: UNEXPECTED: got a token without consent", t.DisplayName)
	}

	d.printf("Step 3. List the tenant's devices with graphlite (GET /v1.0/devices)\n")
	gc, err := graphlite.New(tc, &graphlite.Options{
		BaseURL:       e.GraphURL(),
		ClientOptions: azcore.ClientOptions{Transport: e.Client()},
	})
	if err != nil {
		d.printf("  FAILED: %s\n", oneLine(err.Error()))
		return false, fmt.Sprintf("%s: UNEXPECTED: %v", t.DisplayName, err)
	}
	gBefore := len(e.Graph().Requests())
	start = time.Now()
	var devs []graphlite.Device
	canRead := slices.ContainsFunc(t.Roles, func(r string) bool { return slices.Contains(deviceReadRoles, r) })
	for dev, err := range gc.Devices(ctx, &graphlite.DevicesOptions{
		Select: []string{"id", "displayName", "operatingSystem", "operatingSystemVersion", "trustType", "isCompliant", "approximateLastSignInDateTime"},
	}) {
		if err != nil {
			var ge *graphlite.Error
			if errors.As(err, &ge) && ge.StatusCode == http.StatusForbidden && !canRead {
				d.printf("  Graph answered 403 %s: the app's roles in this tenant (%s) do not include Device.Read.All\n", ge.Code, rolesOrNone(t.Roles))
				return true, fmt.Sprintf("%s: token without a device permission, Graph refused with 403, as expected", t.DisplayName)
			}
			d.printf("  FAILED after %s: %s\n", count(len(devs), "device", "devices"), oneLine(err.Error()))
			return false, fmt.Sprintf("%s: UNEXPECTED: listing devices failed", t.DisplayName)
		}
		devs = append(devs, dev)
	}
	if !canRead {
		return false, fmt.Sprintf("%s: UNEXPECTED: devices listed although the consent grants %s", t.DisplayName, rolesOrNone(t.Roles))
	}
	took = time.Since(start)
	d.printDevices(devs)
	d.printf("  %s in %s (%s to Graph)\n", count(len(devs), "device", "devices"), round(took), trips(len(e.Graph().Requests())-gBefore))
	if len(devs) != len(t.Devices) {
		return false, fmt.Sprintf("%s: UNEXPECTED: %d devices listed, the scenario has %d", t.DisplayName, len(devs), len(t.Devices))
	}
	return true, fmt.Sprintf("%s: token with roles %s, %s listed", t.DisplayName, rolesOrNone(t.Roles), count(len(devs), "device", "devices"))
}

// explain700016 says what the unconsented tenant's answer means and how to
// fix it, taking the admin-consent URL from federated's hint.
func (d *demo) explain700016(ae *federated.AuthError) {
	d.printf("  AADSTS700016 means: application %s was not found in tenant %s. The app is multi-tenant,\n", ae.ClientID, ae.Tenant)
	d.printf("  but it exists in a tenant only once an administrator of that tenant has consented to it\n")
	d.printf("  (which creates its service principal there and grants Device.Read.All).\n")
	hint := ae.Hint
	if i := strings.Index(hint, "Admin consent URL: "); i >= 0 {
		d.printf("  Fix: ask an administrator of tenant %s to open the admin-consent URL:\n", ae.Tenant)
		d.printf("    %s\n", strings.TrimSpace(hint[i+len("Admin consent URL: "):]))
		d.printf("  (on Azure: https://login.microsoftonline.com/%s/adminconsent?client_id=%s)\n", ae.Tenant, ae.ClientID)
	} else if hint != "" {
		d.printf("  Hint: %s\n", hint)
	}
}

// detectSource runs assertion.FromEnvironment against the emulator's
// environment block, which is what a Function App's code calls. FromEnvironment
// reads the process environment (that is its job), so the managed-identity
// variables are set for the duration of that one call and restored right
// after; the sources it builds keep their endpoint and header, not the
// environment. Nothing else in this process runs concurrently with it.
func (d *demo) detectSource() (assertion.Source, string, error) {
	names := []string{"IDENTITY_ENDPOINT", "IDENTITY_HEADER", "MSI_ENDPOINT", "MSI_SECRET", "AZURE_FEDERATED_TOKEN_FILE", "AZURE_POD_IDENTITY_AUTHORITY_HOST",
		"IDENTITY_SERVER_THUMBPRINT", "IMDS_ENDPOINT", "ACTIONS_ID_TOKEN_REQUEST_URL", "ACTIONS_ID_TOKEN_REQUEST_TOKEN", "AZURE_AUTHORITY_HOST"}
	type saved struct {
		value string
		set   bool
	}
	old := map[string]saved{}
	for _, n := range names {
		v, ok := os.LookupEnv(n)
		old[n] = saved{v, ok}
	}
	defer func() {
		for n, s := range old {
			if s.set {
				os.Setenv(n, s.value)
			} else {
				os.Unsetenv(n)
			}
		}
	}()
	env := d.e.Env()
	for _, n := range names {
		if v := env.Get(n); v != "" {
			os.Setenv(n, v)
		} else {
			os.Unsetenv(n)
		}
	}
	// AZURE_AUTHORITY_HOST as the scenario's cloud sets it: the sources
	// take their audience from it. (The credential below is pointed at the
	// emulator's authority by its Cloud option instead.)
	os.Setenv("AZURE_AUTHORITY_HOST", d.e.IDP().Cloud().AuthorityHost)
	src, err := assertion.FromEnvironment()
	if err != nil {
		return nil, "", err
	}
	how := fmt.Sprintf("%T", src)
	if s, ok := src.(fmt.Stringer); ok {
		how = strings.TrimPrefix(s.String(), "assertion.FromEnvironment: ")
	}
	if d.e.Mode() == emulator.ModeArc {
		// The Arc source reads challenge keys only from the agent's
		// directory; the emulator writes them into its own.
		src, err = assertion.AzureArc(&assertion.AzureArcOptions{KeyDirectory: d.e.ArcKeyDirectory()})
		if err != nil {
			return nil, "", err
		}
		how += "; its key directory set to the emulator's, " + d.e.ArcKeyDirectory()
	}
	return src, how, nil
}

func (d *demo) identityEndpoint() string {
	switch d.e.Mode() {
	case emulator.ModeIMDS:
		return d.e.IMDSEndpoint() + "/metadata/identity/oauth2/token (IMDS, api-version 2018-02-01)"
	case emulator.ModeWorkload:
		return d.e.TokenFile() + " (AKS workload identity token file)"
	case emulator.ModeGitHub:
		return d.e.GitHubTokenRequestURL() + " (GitHub Actions OIDC token request)"
	case emulator.ModeArc:
		return d.e.ArcEndpoint() + " (Azure Arc agent, api-version 2019-11-01, key-file challenge)"
	}
	return d.e.AppServiceEndpoint() + " (App Service / Functions, api-version 2019-08-01)"
}

// printClaims prints the named claims of a JWT, decoded without verification:
// they are what a human needs to check a setup, and none of them is secret.
func (d *demo) printClaims(indent, jwt string, names ...string) error {
	c, err := jwtClaims(jwt)
	if err != nil {
		return err
	}
	w := tabwriter.NewWriter(d.out, 2, 8, 1, ' ', 0)
	for _, n := range names {
		v, ok := c[n]
		if !ok {
			continue
		}
		val := claimString(v)
		if f, ok := v.(float64); ok && (n == "exp" || n == "iat" || n == "nbf") {
			t := time.Unix(int64(f), 0)
			val = fmt.Sprintf("%s (in %s)", t.UTC().Format(time.RFC3339), time.Until(t).Round(time.Minute))
		}
		fmt.Fprintf(w, "%s%s\t%s%s\n", indent, n, val, d.claimNote(n, v))
	}
	return w.Flush()
}

// claimNote relates a claim to the scenario, so the reader sees why Entra
// accepts it.
func (d *demo) claimNote(name string, v any) string {
	s, _ := v.(string)
	switch name {
	case "sub":
		for _, m := range d.e.IDP().Scenario().ManagedIdentities {
			if m.ObjectID == s {
				return fmt.Sprintf("  (object ID of the %s-assigned identity %s: the subject its federated credential trusts)", m.Kind, m.Name)
			}
		}
		for _, f := range d.tn.App.FederatedCredentials {
			if f.Subject == s {
				return fmt.Sprintf("  (the subject federated credential %q trusts)", f.Name)
			}
		}
	case "tid":
		if s == d.tn.Home.ID {
			return "  (" + d.tn.Home.DisplayName + ")"
		}
		for _, r := range d.tn.Remotes {
			if r.ID == s {
				return "  (" + r.DisplayName + ")"
			}
		}
	}
	return ""
}

func (d *demo) printDevices(devs []graphlite.Device) {
	w := tabwriter.NewWriter(d.out, 2, 8, 2, ' ', 0)
	fmt.Fprintln(w, "  NAME\tOS\tVERSION\tTRUST\tCOMPLIANT\tLAST SIGN-IN")
	for _, dv := range devs {
		compliant, seen := "?", "?"
		if dv.IsCompliant != nil {
			compliant = fmt.Sprint(*dv.IsCompliant)
		}
		if dv.ApproximateLastSignInDateTime != nil {
			seen = dv.ApproximateLastSignInDateTime.UTC().Format("2006-01-02")
		}
		fmt.Fprintf(w, "  %s\t%s\t%s\t%s\t%s\t%s\n", dv.DisplayName, dv.OperatingSystem, dv.OperatingSystemVersion, dv.TrustType, compliant, seen)
	}
	w.Flush()
}

// deviceReadRoles are the application permissions that let an app list
// devices (learn.microsoft.com/graph/api/device-list, "Permissions").
var deviceReadRoles = []string{"Device.Read.All", "Device.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All"}

func rolesOrNone(roles []string) string {
	if len(roles) == 0 {
		return "no roles"
	}
	return strings.Join(roles, ", ")
}

func trips(n int) string { return count(n, "round trip", "round trips") }

// count says "1 device" or "4 devices".
func count(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

func codes(cs []int) string {
	s := make([]string, len(cs))
	for i, c := range cs {
		s[i] = fmt.Sprint(c)
	}
	return strings.Join(s, ",")
}

func round(d time.Duration) time.Duration {
	switch {
	case d > time.Second:
		return d.Round(10 * time.Millisecond)
	case d > time.Millisecond:
		return d.Round(10 * time.Microsecond)
	}
	return d
}
