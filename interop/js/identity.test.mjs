// @azure/identity against the Go emulator (`fakemsi serve`): the real client,
// unchanged, gets a Graph token in a consented tenant through a managed
// identity, and reads Entra's AADSTS code when the tenant did not consent.
import { describe, before, after, test } from 'node:test';
import assert from 'node:assert/strict';
import { startEmulator, runChild } from './emulator.mjs';

const DefaultSystemIdentityObjectID = 'bbbbbbbb-0000-0000-0000-000000000001';
const DefaultUserIdentityClientID = 'cccccccc-0000-0000-0000-000000000002';
const DefaultUserIdentityObjectID = 'cccccccc-0000-0000-0000-000000000001';
const DefaultConsentedTenantID = '22222222-2222-2222-2222-222222222222';
const DefaultUnconsentedTenantID = '33333333-3333-3333-3333-333333333333';

describe('@azure/identity against fakemsi serve', { timeout: 120_000 }, () => {
  let fake;
  // b is what the tests read from the environment block.
  let b;
  before(async () => {
    fake = await startEmulator();
    const env = fake.env;
    const [consented, ...others] = env.FAKEMSI_TENANTS.split(',');
    b = {
      env,
      authorityHost: env.AZURE_AUTHORITY_HOST,
      homeTenant: env.AZURE_TENANT_ID,
      clientId: env.AZURE_CLIENT_ID,
      consentedTenant: consented,
      unconsentedTenant: others.at(-1),
    };
  }, { timeout: 120_000 });
  after(async () => { await fake?.stop(); });

  test('the environment block names the default scenario', () => {
    assert.equal(b.consentedTenant, DefaultConsentedTenantID);
    assert.equal(b.unconsentedTenant, DefaultUnconsentedTenantID);
    assert.match(b.authorityHost, /^https:\/\/127\.0\.0\.1:\d+$/);
    assert.equal(b.env.NODE_EXTRA_CA_CERTS, b.env.SSL_CERT_FILE);
    assert.ok(b.env.IDENTITY_ENDPOINT && b.env.IDENTITY_HEADER, 'appservice mode sets IDENTITY_ENDPOINT and IDENTITY_HEADER');
  });

  const graphClaims = (tenant) => ({
    iss: `https://sts.windows.net/${tenant}/`,
    aud: 'https://graph.microsoft.com',
    tid: tenant,
    appid: b.clientId,
    roles: ['Device.Read.All'],
    idtyp: 'app',
    ver: '1.0',
  });

  test('system-assigned identity gets a Graph token in the consented tenant', async () => {
    const tenant = b.consentedTenant;
    const r = await runChild(b.env, [tenant]);
    assert.equal(r.ok, true, `child failed: ${r.message}`);
    assert.deepEqual(r.claims, graphClaims(tenant));
    assert.deepEqual(r.assertion, {
      iss: `${b.authorityHost}/${b.homeTenant}/v2.0`,
      aud: 'api://AzureADTokenExchange',
      tid: b.homeTenant,
      sub: DefaultSystemIdentityObjectID,
    });
    assert.ok(r.expiresInMinutes >= 55 && r.expiresInMinutes <= 95, `token lifetime ${r.expiresInMinutes} min`);
  });

  test('user-assigned identity gets a Graph token in the consented tenant', async () => {
    const tenant = b.consentedTenant;
    const r = await runChild(b.env, [tenant, DefaultUserIdentityClientID]);
    assert.equal(r.ok, true, `child failed: ${r.message}`);
    assert.deepEqual(r.claims, graphClaims(tenant));
    assert.equal(r.assertion.sub, DefaultUserIdentityObjectID);
  });

  test('the tenant that did not consent answers AADSTS700016', async () => {
    const r = await runChild(b.env, [b.unconsentedTenant]);
    assert.equal(r.ok, false, 'got a token from a tenant that never consented');
    assert.match(r.message, /AADSTS700016/);
  });

  test('without NODE_EXTRA_CA_CERTS node refuses the emulator certificate', async () => {
    const r = await runChild(b.env, [b.consentedTenant], { NODE_EXTRA_CA_CERTS: '' });
    assert.equal(r.ok, false, 'got a token without trusting the emulator CA');
    // msal-node reports the failed TLS handshake of its discovery request as
    // endpoints_resolution_error; the first test shows the same request
    // succeeds once the CA is trusted.
    assert.match(r.message, /certificate|self.signed|unable to verify|endpoints_resolution_error/i);
  });
});
