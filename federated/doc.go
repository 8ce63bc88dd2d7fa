// Package federated provides [Credential], an [azcore.TokenCredential] that
// trades a client assertion (a managed identity's token for
// api://AzureADTokenExchange, a projected workload token, any OIDC JWT) for a
// Microsoft Entra access token of a multi-tenant app registration, in its home
// tenant or in any tenant that consented to it and that the credential is
// allowed to use.
//
// It exists because the usual glue (azidentity's ManagedIdentityCredential
// feeding ClientAssertionCredential) makes three round trips for the first
// token, one more per tenant for discovery, and allocates on every cached call.
// Credential makes one round trip per new token, reuses one assertion for every
// tenant and scope, and serves cached tokens without locks or allocations.
//
// In an Azure Function App whose user-assigned identity the app trusts, with
// AZURE_TENANT_ID and AZURE_CLIENT_ID (the app registration) set:
//
//	src, err := assertion.AppService(&assertion.AppServiceOptions{ClientID: identityClientID})
//	if err != nil { ... }
//	cred, err := federated.NewCredential(os.Getenv("AZURE_TENANT_ID"), os.Getenv("AZURE_CLIENT_ID"), src, nil)
//	if err != nil { ... }
//	tok, err := cred.GetToken(ctx, policy.TokenRequestOptions{
//		Scopes:   []string{"https://graph.microsoft.com/.default"},
//		TenantID: customerTenant, // must be allowed, see Options.AdditionallyAllowedTenants
//	})
//
// [NewFromEnvironment](nil) does all of it from the app settings: the
// user-assigned identity named by AZURE_MANAGED_IDENTITY_CLIENT_ID, or the
// system-assigned one when that is empty (see [assertion.FromEnvironment]).
// docs/setup.md walks through the Azure side.
//
// The token request goes through an azcore pipeline built from
// [Options].ClientOptions, as in azidentity's credentials: policies, retry,
// logging (never of bodies), tracing, telemetry and transport mean what they
// mean in any Azure SDK client. The Credential's own log entries
// ([EventAuthentication]) go to [Options].Logger. Entra's errors are
// [*AuthError].
//
// Nothing a peer or a caller's code does may take the host down or grow
// without bound (docs/reliability.md): a panic in the assertion source, a
// policy or the transport, on a background refresh too, is recovered and
// becomes the error (matching recovered.ErrPanicked's text, "panicked") of
// the callers waiting for that token; responses are read up to 1 MiB;
// expires_in is clamped to 30 hours; text from the network enters an error or
// a log line clipped and scrubbed of the assertion; tenants whose requests
// fail are not kept in the cache.
package federated
