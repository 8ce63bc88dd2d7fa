// Package fakeidp is an offline, faithful emulator of Microsoft Entra's token
// service and of the Azure managed-identity endpoints, so that workload
// identity federation can be tested end to end on a laptop or in CI. It checks
// what Entra checks (federated identity credentials, consent, assertion
// signature and lifetime) and answers with Entra's AADSTS errors.
//
// The common call:
//
//	srv, err := fakeidp.New(nil, nil) // nil: DefaultScenario()
//	if err != nil { ... }
//	defer srv.Close()
//	// IDENTITY_ENDPOINT=srv.AppServiceEndpoint(), IDENTITY_HEADER=srv.IdentityHeader(),
//	// AZURE_AUTHORITY_HOST=srv.URL(), and trust srv.CAPEM() (or use srv.Client()).
//
// The server has two listeners. The Entra one (HTTPS, a CA generated at [New],
// since MSAL and azcore refuse plain-HTTP authorities) serves
//
//	GET  /{tenant}/v2.0/.well-known/openid-configuration
//	GET  /{tenant}/discovery/v2.0/keys, /common/discovery/v2.0/keys
//	GET  /common/discovery/instance
//	POST /{tenant}/oauth2/v2.0/token      (client_credentials with a client assertion)
//	GET  /issuers/{name}/.well-known/openid-configuration, /issuers/{name}/keys
//	GET, POST /{tenant}/adminconsent, /{tenant}/v2.0/adminconsent   (the admin-consent page)
//
// and the managed-identity one (plain HTTP, like the real endpoints) serves
// App Service's GET /msi/token (api-version 2019-08-01 and 2017-09-01),
// IMDS's GET /metadata/identity/oauth2/token (api-version 2018-02-01), Azure
// Arc's GET /arc/metadata/identity/oauth2/token (api-version 2019-11-01, a 401
// challenge naming a key file it writes, then the token for that key) and,
// for an issuer of kind [IssuerKindGitHub], GitHub Actions' token request
// GET /github/{name}/idtoken (a bearer request token; GitHub's claims and
// subject forms, see [GitHubRun]). With [Options].NoListener both are served
// in process through [Server.Transport].
//
// A scenario may be set in the US Government or China cloud
// ([DefaultScenarioIn], [Scenario].Cloud): its federated credentials then
// expect that cloud's token-exchange audience, as Entra there does, and
// discovery documents name that cloud.
//
// The token endpoint validates in Entra's observable order, so each
// misconfiguration yields one code: tenant (90002; /common and friends
// 9001023), request parameters (900144, 70003, 70011, 1002012), app known in
// the tenant (700016), client authentication (7000216, 7000215, 90011, 50027,
// 700027 for a bad signature, unknown kid or an alg other than RS256, 700024
// for exp/nbf outside the window with five minutes of tolerance),
// federated credential match, exact and case-sensitive (700211 issuer, 700213
// subject, 700212 audience), consent in the tenant (700016), then the
// resource (500011 invalid_resource unless it is one of [MicrosoftResources],
// Scenario.Resources or an app). Errors with error "invalid_client" answer
// 401, the others 400; error_description is Entra's multi-line text
// ("AADSTSn: message", then Trace ID, Correlation ID and Timestamp lines), the
// trace ID is the answer's x-ms-request-id, and a client-request-id is the
// correlation ID (and echoed when return-client-request-id: true asks).
// Tokens for Microsoft's APIs (Graph, ARM, Key Vault, Storage) are v1 tokens
// (iss https://sts.windows.net/{tid}/, appid, appidacr, ver 1.0), as Entra
// issues them; managed-identity assertions for api://AzureADTokenExchange and
// tokens for the scenario's apps are v2. Discovery documents and keys are
// cacheable for a day, as Entra's; a key's kid is its x5t.
//
// The admin-consent URL that tools print for AADSTS700016 works: it shows
// what the app asks for and, on Accept, grants the consent in the running
// server ([Server.GrantConsent]) and redirects to redirect_uri with
// admin_consent=True&tenant=..., as Entra does.
//
// The server has the methods of every fake of this module (graphtest's too):
// [Server.AddFault] and [Server.ClearFaults] script failures ([Fault], one
// type with graphtest.Fault: Count 0 lasts until cleared, Count n serves the
// next n; [ParseFault] reads the spec syntax of fakemsi's --fault), and
// [Server.Requests] and [Server.ResetRequests] read and reset the request log
// (the last 10,000 [Request] records). [Server.WarmUpIMDS],
// [Server.RotateKeys] and [Server.SetClockOffset] play IMDS's warm-up, an
// emergency key rotation and clock skew.
//
// Secrets never leave the server in a readable form: [Server.Requests] and
// the log lines redact assertions, client secrets and tokens, and no error
// message echoes a token.
package fakeidp
