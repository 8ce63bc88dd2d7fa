// The emulator as a program: `fakemsi exec -- node child.mjs` runs an
// unmodified @azure/identity program with nothing but fakemsi's environment
// block (IDENTITY_ENDPOINT, AZURE_AUTHORITY_HOST, NODE_EXTRA_CA_CERTS, ...).
// The binary is emulator.mjs's fakemsiBinary(): FAKEMSI_BIN, or built once.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fakemsiBinary, platformVar } from './emulator.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const consentedTenant = '22222222-2222-2222-2222-222222222222';

async function fakemsiExec(args, extraEnv = {}) {
  const bin = await fakemsiBinary();
  const env = { ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !platformVar.test(k))), ...extraEnv };
  return new Promise((resolve, reject) => {
    const child = spawn(bin, ['exec', ...args], { cwd: here, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { err += d; });
    child.on('error', reject);
    child.on('exit', (code) => resolve({ code, out, err }));
  });
}

for (const [mode, credential] of [['appservice', 'ManagedIdentityCredential + ClientAssertionCredential'], ['imds', 'ManagedIdentityCredential (IMDS at AZURE_POD_IDENTITY_AUTHORITY_HOST) + ClientAssertionCredential'], ['workload', 'WorkloadIdentityCredential']]) {
  test(`fakemsi exec --mode ${mode} -- node child.mjs: ${credential} gets a Graph token`, { timeout: 120_000 }, async () => {
    const { code, out, err } = await fakemsiExec(['--mode', mode, '--', process.execPath, join(here, 'child.mjs')], { CHILD_CREDENTIAL: mode });
    assert.equal(code, 0, `fakemsi exec exited with ${code}:\n${err}`);
    const r = JSON.parse(out.trim().split('\n').pop());
    assert.equal(r.ok, true, `child failed: ${r.message}`);
    assert.equal(r.claims.tid, consentedTenant);
    assert.equal(r.claims.aud, 'https://graph.microsoft.com');
    assert.deepEqual(r.claims.roles, ['Device.Read.All']);
  });
}
