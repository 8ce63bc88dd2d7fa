// Starts the emulator for the node tests with `fakemsi serve --env-file`, the
// way a suite in any language keeps it running, and runs child node processes
// against it. The emulator is the Go program (cmd/fakemsi) because the point
// is to test the very servers the Go packages use. fakemsiBinary() builds it
// once per test process (node --test runs each file in its own; Go's build
// cache makes the second file's build a link) into a temporary directory,
// and every test runs that binary directly, not through `go run`: SIGTERM
// must reach fakemsi itself, so that it stops and removes its files.
// FAKEMSI_BIN names a prebuilt binary to skip the build.
import { spawn, execFile } from 'node:child_process';
import { rmSync } from 'node:fs';
import { access, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const here = dirname(fileURLToPath(import.meta.url));

// Variables that steer Azure clients' platform detection: a child sees only
// the emulator's, never the ones of the machine running the tests.
export const platformVar = /^(AZURE_|MSI_|IDENTITY_|IMDS_ENDPOINT$|FAKEMSI_|SSL_CERT_|NODE_EXTRA_CA_CERTS$)/;

// startupTimeoutMs bounds the build and the start: a hang fails the test with
// what fakemsi said instead of the runner's bare timeout.
const startupTimeoutMs = 100_000;

// parseEnvFile reads the KEY=VALUE lines `fakemsi serve --env-file` writes.
export function parseEnvFile(text) {
  const env = {};
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const i = line.indexOf('=');
    if (i <= 0) throw new Error(`env file line is not KEY=VALUE: ${line.slice(0, 40)}`);
    env[line.slice(0, i)] = line.slice(i + 1);
  }
  return env;
}

let built;

// fakemsiBinary resolves to the path of cmd/fakemsi: FAKEMSI_BIN, or a
// binary built on the first call and removed when the process exits.
export function fakemsiBinary() {
  if (process.env.FAKEMSI_BIN) return Promise.resolve(process.env.FAKEMSI_BIN);
  built ??= (async () => {
    const dir = await mkdtemp(join(tmpdir(), 'fakemsi-bin-'));
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
    const bin = join(dir, 'fakemsi');
    try {
      await promisify(execFile)('go', ['build', '-o', bin, 'github.com/tenantbridge/tenantbridge/cmd/fakemsi'],
        { cwd: here, timeout: startupTimeoutMs });
    } catch (e) {
      throw new Error(`building cmd/fakemsi: ${e.message}\n${e.stderr ?? ''}`);
    }
    return bin;
  })();
  return built;
}

// startEmulator resolves to { env, stop } once `fakemsi serve` has written
// its environment block. The env file is written atomically, so once it
// exists it is complete. stop() sends SIGTERM and waits for fakemsi to exit.
export async function startEmulator(args = []) {
  const bin = await fakemsiBinary();
  const dir = await mkdtemp(join(tmpdir(), 'fakemsi-js-'));
  const cleanup = () => rm(dir, { recursive: true, force: true });
  const envFile = join(dir, 'fake.env');
  const child = spawn(bin, ['serve', '--env-file', envFile, '--log-level', 'warn', ...args], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  // If the runner exits without stop() (a crash, a timeout), take the
  // emulator along rather than leave it serving.
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  let stderr = '';
  child.stderr.on('data', (d) => { stderr += d; });
  let ended = null;
  // 'error' instead of 'exit' when the binary cannot be started.
  const exited = new Promise((resolve) => {
    child.on('exit', (code, signal) => resolve(ended = { code, signal }));
    child.on('error', (e) => resolve(ended = { error: e.message }));
  });
  const fail = async (why) => {
    if (!ended) {
      child.kill('SIGKILL');
      await exited;
    }
    process.off('exit', killOnExit);
    await cleanup();
    throw new Error(`${why}:\n${stderr}`);
  };

  const deadline = Date.now() + startupTimeoutMs;
  for (;;) {
    if (ended) await fail(`fakemsi serve exited (${JSON.stringify(ended)}) before writing its env file`);
    try {
      await access(envFile);
      break;
    } catch {
      // not written yet
    }
    if (Date.now() > deadline) await fail(`fakemsi serve wrote no env file within ${startupTimeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
  const env = parseEnvFile(await readFile(envFile, 'utf8'));
  return {
    env,
    async stop() {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
      const r = await exited;
      clearTimeout(timer);
      process.off('exit', killOnExit);
      await cleanup();
      if (r.code !== 0) throw new Error(`fakemsi serve ended with ${JSON.stringify(r)} after SIGTERM:\n${stderr}`);
    },
  };
}

// runChild runs child.mjs with the emulator's environment (NODE_EXTRA_CA_CERTS
// is read by node only at startup, hence a process per case) and resolves to
// the JSON line it prints.
export function runChild(emulatorEnv, args, extraEnv = {}) {
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !platformVar.test(k)));
  const env = { ...base, ...emulatorEnv, ...extraEnv };
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(here, 'child.mjs'), ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { err += d; });
    child.on('error', reject);
    child.on('exit', (code) => {
      try {
        resolve(JSON.parse(out));
      } catch {
        reject(new Error(`child exited with ${code} and no JSON result:\n${out}\n${err}`));
      }
    });
  });
}
