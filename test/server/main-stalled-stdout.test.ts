// Bug 1 of issue 16: a server whose stdout/stderr pipe is stalled (the reader
// stopped reading) or gone (the reader exited) must still stop on SIGTERM
// within its deadline. A real process with real pipes: nothing else shows it.
import { type ChildProcess, spawn } from 'node:child_process';
import { request } from 'node:http';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { TEST_DATABASE_ENV } from '../support/server.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SHUTDOWN_MS = 1000;
// The deadline plus the backstop's second and room for a busy machine.
const EXIT_BOUND_MS = SHUTDOWN_MS + 6000;

const children: ChildProcess[] = [];
afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

function start() {
  const child = spawn(process.execPath, ['--import', 'tsx', 'server/main.ts'], {
    cwd: ROOT,
    // Default log level (info): every request logs two lines.
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...TEST_DATABASE_ENV, PORT: '0', GUILDHALL_SHUTDOWN_TIMEOUT_MS: String(SHUTDOWN_MS), GUILDHALL_SEED: 'false' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  const base = new Promise<string>((resolve, reject) => {
    let out = '';
    const onData = (d: Buffer): void => {
      out += d.toString('utf8');
      const m = /REST API:\s+(http:\/\/[^/\s]+)/.exec(out);
      if (m) {
        child.stdout!.off('data', onData);
        resolve(m[1]!);
      }
    };
    child.stdout!.on('data', onData);
    child.on('exit', () => reject(new Error(`exited before listening: ${out}`)));
  });
  return { child, exited, base };
}

/** Many small requests, each logged twice by the server: far more than a pipe's 64 KiB buffer. */
async function makeItLog(base: string, count: number): Promise<void> {
  const agentless = (): Promise<void> =>
    new Promise((resolve) => {
      const req = request(`${base}/healthz`, (res) => {
        res.resume();
        res.on('end', resolve);
      });
      req.on('error', () => resolve());
      req.end();
    });
  for (let i = 0; i < count; i += 50) await Promise.all(Array.from({ length: 50 }, agentless));
}

async function exitWithin(exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>, ms: number) {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'hung'>((resolve) => (timer = setTimeout(() => resolve('hung'), ms)));
  const result = await Promise.race([exited, timeout]);
  clearTimeout(timer);
  return result;
}

describe('server/main.ts with a stalled or closed log pipe', () => {
  it('exits on SIGTERM when the reader of stdout/stderr stopped reading', async () => {
    const p = start();
    const base = await p.base;
    p.child.stdout!.pause();
    p.child.stderr!.pause();
    await makeItLog(base, 3000);
    const t0 = Date.now();
    p.child.kill('SIGTERM');
    const result = await exitWithin(p.exited, EXIT_BOUND_MS);
    expect(result).not.toBe('hung');
    expect(Date.now() - t0).toBeLessThan(EXIT_BOUND_MS);
    // A clean shutdown, not the watchdog's SIGKILL.
    expect(result).toEqual({ code: 0, signal: null });
  }, 60_000);

  it('exits on SIGTERM when the reader of stdout/stderr is gone', async () => {
    const p = start();
    const base = await p.base;
    // What npm does when it is stopped: stop reading (the pipe fills), then exit
    // (closing our ends, so the server's writes get EPIPE with lines still queued).
    p.child.stdout!.pause();
    p.child.stderr!.pause();
    await makeItLog(base, 3000);
    p.child.stdout!.destroy();
    p.child.stderr!.destroy();
    await makeItLog(base, 200);
    p.child.kill('SIGTERM');
    const result = await exitWithin(p.exited, EXIT_BOUND_MS);
    expect(result).not.toBe('hung');
    expect(result).toEqual({ code: 0, signal: null });
  }, 60_000);

  it('exits at once (status 1) on a second SIGTERM while the reader is stalled', async () => {
    const p = start();
    const base = await p.base;
    p.child.stdout!.pause();
    p.child.stderr!.pause();
    await makeItLog(base, 3000);
    p.child.kill('SIGTERM');
    // Apart: two signals sent at once arrive as one. The clean shutdown waits up to
    // 500 ms for the stalled stdout to drain, so the second one finds it still running.
    await new Promise((r) => setTimeout(r, 100));
    p.child.kill('SIGTERM');
    const result = await exitWithin(p.exited, EXIT_BOUND_MS);
    expect(result).toEqual({ code: 1, signal: null });
  }, 60_000);
});
