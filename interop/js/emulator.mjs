// Starts the Go emulator (interop/cmd/fakeidpserve) for the node tests and
// runs child node processes against it. The emulator is written in Go and
// started from here because the point is to test the very server the Go
// packages use; FAKEIDP_BIN names a prebuilt binary to skip `go run`.
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));

// startFakeIdp resolves to { block, stop } once the server has written its
// environment block. stop() closes its stdin, which makes it exit.
export async function startFakeIdp() {
  const dir = await mkdtemp(join(tmpdir(), 'fakeidp-js-'));
  const envFile = join(dir, 'env.json');
  const [cmd, args] = process.env.FAKEIDP_BIN
    ? [process.env.FAKEIDP_BIN, []]
    : ['go', ['run', '../cmd/fakeidpserve']];
  const child = spawn(cmd, [...args, '-env-file', envFile], {
    cwd: here,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d) => { stderr += d; });
  await new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
      if (out.includes('ready\n')) resolve();
    });
    child.on('error', reject);
    child.on('exit', (code) => reject(new Error(`fakeidpserve exited with ${code} before it was ready:\n${stderr}`)));
  });
  const block = JSON.parse(await readFile(envFile, 'utf8'));
  const exited = new Promise((resolve) => child.on('exit', resolve));
  return {
    block,
    async stop() {
      child.stdin.end();
      await exited;
      await rm(dir, { recursive: true, force: true });
    },
  };
}

// runChild runs child.mjs with the emulator's environment (NODE_EXTRA_CA_CERTS
// is read by node only at startup, hence a process per case) and resolves to
// the JSON line it prints.
export function runChild(block, args, extraEnv = {}) {
  const env = { ...process.env, ...block.env, ...extraEnv };
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
