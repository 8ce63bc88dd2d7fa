// Package bench compares tenantbridge's federated.Credential with the glue
// people use today, azidentity's ManagedIdentityCredential feeding
// ClientAssertionCredential, side by side in one run against one fakeidp
// server over HTTPS loopback. docs/performance.md reports the numbers.
//
//	cd interop && go test -run '^$' -bench . -benchmem ./bench
//
// Round trips are counted with fakeidp's Requests() and reported as custom
// metrics (msi-req/op, entra-req/op). MSAL Go caches managed-identity tokens
// for the whole process, so after the first benchmark azidentity never asks the
// managed-identity endpoint again, even with fresh credentials; its msi-req/op
// is then 0 where a fresh process (a cold start) would pay one request.
package bench
