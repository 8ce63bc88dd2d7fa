// A program as a Function App author writes it with @azure/identity:
// ManagedIdentityCredential (App Service, detected from IDENTITY_ENDPOINT and
// IDENTITY_HEADER, or IMDS at AZURE_POD_IDENTITY_AUTHORITY_HOST under
// `fakemsi exec --mode imds`) feeding ClientAssertionCredential for a tenant. It prints
// one JSON line: the claims of the Graph token it got, or the error. It never
// prints a token.
//
//   node child.mjs [TENANT [MANAGED_IDENTITY_CLIENT_ID]]
//
// TENANT defaults to the first of FAKEMSI_TENANTS (the consented tenant under
// `fakemsi exec`). With CHILD_CREDENTIAL=workload it uses
// WorkloadIdentityCredential (AZURE_FEDERATED_TOKEN_FILE) instead.
import { ClientAssertionCredential, ManagedIdentityCredential, WorkloadIdentityCredential } from '@azure/identity';

const [tenantArg, miClientId] = process.argv.slice(2);
const tenant = tenantArg || (process.env.FAKEMSI_TENANTS || '').split(',')[0];

function payloadOf(token) {
  return JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString('utf8'));
}

function claimsOf(token) {
  const { iss, aud, tid, appid, roles, idtyp, ver } = payloadOf(token);
  return { iss, aud, tid, appid, roles, idtyp, ver };
}

function assertionClaimsOf(token) {
  const { iss, aud, tid, sub } = payloadOf(token);
  return { iss, aud, tid, sub };
}

async function workloadToken() {
  const cred = new WorkloadIdentityCredential({
    tenantId: tenant,
    clientId: process.env.AZURE_CLIENT_ID,
    tokenFilePath: process.env.AZURE_FEDERATED_TOKEN_FILE,
    authorityHost: process.env.AZURE_AUTHORITY_HOST,
    disableInstanceDiscovery: true,
  });
  const t = await cred.getToken('https://graph.microsoft.com/.default');
  return { ok: true, claims: claimsOf(t.token) };
}

try {
  if (process.env.CHILD_CREDENTIAL === 'workload') {
    console.log(JSON.stringify(await workloadToken()));
    process.exit(0);
  }
  const mi = miClientId ? new ManagedIdentityCredential({ clientId: miClientId }) : new ManagedIdentityCredential();
  let assertion = null;
  const getAssertion = async () => {
    const t = await mi.getToken('api://AzureADTokenExchange/.default');
    assertion = assertionClaimsOf(t.token);
    return t.token;
  };
  const cred = new ClientAssertionCredential(tenant, process.env.AZURE_CLIENT_ID, getAssertion, {
    authorityHost: process.env.AZURE_AUTHORITY_HOST,
    disableInstanceDiscovery: true,
  });
  const t = await cred.getToken('https://graph.microsoft.com/.default');
  console.log(JSON.stringify({ ok: true, assertion, claims: claimsOf(t.token), expiresInMinutes: Math.round((t.expiresOnTimestamp - Date.now()) / 60000) }));
} catch (e) {
  console.log(JSON.stringify({ ok: false, name: e.name, message: String(e.message), errorCodes: e.errorResponse?.errorCodes }));
}
