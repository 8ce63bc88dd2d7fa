// @azure/identity against the Go emulator: the real client, unchanged, gets a
// Graph token in a consented tenant through a managed identity, and reads
// Entra's AADSTS code when the tenant did not consent.
import { describe, before, after, test } from 'node:test';
import assert from 'node:assert/strict';
import { startFakeIdp, runChild } from './fakeidp.mjs';

const DefaultSystemIdentityObjectID = 'bbbbbbbb-0000-0000-0000-000000000001';
const DefaultUserIdentityClientID = 'cccccccc-0000-0000-0000-000000000002';
const DefaultUserIdentityObjectID = 'cccccccc-0000-0000-0000-000000000001';

describe('@azure/identity against fakeidp', { timeout: 120_000 }, () => {
  let fake;
  before(async () => { fake = await startFakeIdp(); }, { timeout: 120_000 });
  after(async () => { await fake?.stop(); });

  const graphClaims = (b, tenant) => ({
    iss: `https://sts.windows.net/${tenant}/`,
    aud: 'https://graph.microsoft.com',
    tid: tenant,
    appid: b.clientId,
    roles: ['Device.Read.All'],
    idtyp: 'app',
    ver: '1.0',
  });

  test('system-assigned identity gets a Graph token in the consented tenant', async () => {
    const b = fake.block;
    const tenant = b.consentedTenants[0];
    const r = await runChild(b, [tenant]);
    assert.equal(r.ok, true, `child failed: ${r.message}`);
    assert.deepEqual(r.claims, graphClaims(b, tenant));
    assert.deepEqual(r.assertion, {
      iss: `${b.authorityHost}/${b.homeTenant}/v2.0`,
      aud: 'api://AzureADTokenExchange',
      tid: b.homeTenant,
      sub: DefaultSystemIdentityObjectID,
    });
    assert.ok(r.expiresInMinutes >= 55 && r.expiresInMinutes <= 95, `token lifetime ${r.expiresInMinutes} min`);
  });

  test('user-assigned identity gets a Graph token in the consented tenant', async () => {
    const b = fake.block;
    const tenant = b.consentedTenants[0];
    const r = await runChild(b, [tenant, DefaultUserIdentityClientID]);
    assert.equal(r.ok, true, `child failed: ${r.message}`);
    assert.deepEqual(r.claims, graphClaims(b, tenant));
    assert.equal(r.assertion.sub, DefaultUserIdentityObjectID);
  });

  test('the tenant that did not consent answers AADSTS700016', async () => {
    const b = fake.block;
    const r = await runChild(b, [b.unconsentedTenants[0]]);
    assert.equal(r.ok, false, 'got a token from a tenant that never consented');
    assert.match(r.message, /AADSTS700016/);
  });

  test('without NODE_EXTRA_CA_CERTS node refuses the emulator certificate', async () => {
    const b = fake.block;
    const r = await runChild(b, [b.consentedTenants[0]], { NODE_EXTRA_CA_CERTS: '' });
    assert.equal(r.ok, false, 'got a token without trusting the emulator CA');
    // msal-node reports the failed TLS handshake of its discovery request as
    // endpoints_resolution_error; the first test shows the same request
    // succeeds once the CA is trusted.
    assert.match(r.message, /certificate|self.signed|unable to verify|endpoints_resolution_error/i);
  });
});
