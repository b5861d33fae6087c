// The entry point as an operator meets it: a real process.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { TEST_DATABASE_ENV } from '../support/server.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const children: ChildProcess[] = [];
afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

function start(env: Record<string, string>, args: string[] = []) {
  // Only what the server reads: no OTEL_* or GUILDHALL_* leaking in from the test runner.
  const child = spawn(process.execPath, ['--import', 'tsx', 'server/main.ts', ...args], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...TEST_DATABASE_ENV, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString('utf8')));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, exited, out: () => stdout, err: () => stderr };
}

async function waitFor(check: () => RegExpMatchArray | null, timeoutMs = 15_000): Promise<RegExpMatchArray> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const m = check();
    if (m) return m;
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 50));
  }
}

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('server/main.ts', () => {
  it('exits 2 with a readable message for an invalid configuration', async () => {
    const p = start({ PORT: 'abc', LOG_LEVEL: 'loud' });
    expect(await p.exited).toBe(2);
    expect(p.err()).toMatch(/Invalid configuration/);
    expect(p.err()).toMatch(/PORT/);
    expect(p.err()).toMatch(/LOG_LEVEL/);
  });

  it('exits 2 for an invalid OTEL_* variable too', async () => {
    const p = start({ PORT: '0', OTEL_TRACES_SAMPLER: 'sometimes' });
    expect(await p.exited).toBe(2);
    expect(p.err()).toMatch(/OTEL_TRACES_SAMPLER/);
  });

  it('prints its URLs and demo tokens, serves /healthz, and exits 0 on SIGTERM', async () => {
    const p = start({ PORT: '0', LOG_LEVEL: 'silent', GUILDHALL_TOKEN_SECRET: 'main-test-secret-0123456789' });
    const [, api] = await waitFor(() => p.out().match(/REST API:\s+(http:\/\/\S+)/));
    expect(p.out()).toMatch(/Gateway:\s+ws:\/\/\S+\/gateway/);
    const alice = p.out().match(/^\s+alice\s+(\d+)\s+(\S+)/m);
    expect(alice).not.toBeNull();

    const origin = new URL(api!).origin;
    expect((await fetch(`${origin}/healthz`)).status).toBe(200);
    const me = await fetch(`${api}/users/@me`, { headers: { authorization: `Bot ${alice![2]}` } });
    expect(((await me.json()) as { id: string }).id).toBe(alice![1]);

    p.child.kill('SIGTERM');
    expect(await p.exited).toBe(0);
  });

  it('keeps its data and its token secret in the database across a restart, and seeds only once', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'guildhall-main-'));
    dirs.push(dir);
    // No GUILDHALL_TOKEN_SECRET: the secret is generated once and stored with the data.
    const env = { PORT: '0', LOG_LEVEL: 'silent', DATABASE_URL: `sqlite:${join(dir, 'data', 'guildhall.db')}` };
    const first = start(env);
    // Two starts of a tsx process: slow on a busy machine.
    const [, api] = await waitFor(() => first.out().match(/REST API:\s+(http:\/\/\S+)/), 40_000);
    const [, aliceId, token] = await waitFor(() => first.out().match(/^\s+alice\s+(\d+)\s+(\S+)/m));
    const guilds = async (base: string) => (await (await fetch(`${base}/users/@me/guilds`, { headers: { authorization: `Bot ${token}` } })).json()) as { id: string }[];
    const before = await guilds(api!);
    expect(before.length).toBeGreaterThan(0);
    first.child.kill('SIGTERM');
    expect(await first.exited).toBe(0);

    const second = start(env);
    const [, api2] = await waitFor(() => second.out().match(/REST API:\s+(http:\/\/\S+)/), 40_000);
    const me = await fetch(`${api2}/users/@me`, { headers: { authorization: `Bot ${token}` } });
    expect(me.status).toBe(200);
    expect(((await me.json()) as { id: string }).id).toBe(aliceId);
    expect(await guilds(api2!)).toEqual(before);
    second.child.kill('SIGTERM');
    expect(await second.exited).toBe(0);
  }, 120_000);

  it('exits 2 for a malformed DATABASE_URL', async () => {
    const p = start({ PORT: '0', DATABASE_URL: 'mysql://localhost/db' });
    expect(await p.exited).toBe(2);
    expect(p.err()).toMatch(/DATABASE_URL/);
  });

  it('does not seed with --no-seed', async () => {
    const p = start({ PORT: '0', LOG_LEVEL: 'silent' }, ['--no-seed']);
    await waitFor(() => p.out().match(/REST API:/));
    expect(p.out()).not.toMatch(/alice/);
    p.child.kill('SIGINT');
    expect(await p.exited).toBe(0);
  });
});
