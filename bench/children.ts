// The benchmark's child processes: Guildhall servers (compiled server/main.ts, one
// per mode), the floor servers, the Socket.IO server, the OTLP sink and the
// client drivers. Every wait is bounded; every child is stopped by its pid.
// Every server child runs with --expose-gc and bench/session-memory-probe.ts
// preloaded, so its memory after a GC can be asked for over IPC (askServer).
import { type ChildProcess, execFileSync, fork, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import type { BurstResult } from '../client-sim/broadcast-driver.js';
import type { DriverCommand } from './client-driver.js';
import type { ProbeRequest } from './session-memory-probe.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const TSX = ['--import', 'tsx'];
/** What every server child runs with: TypeScript, and the memory probe (which needs gc()). */
export const PROBE = join(ROOT, 'bench/session-memory-probe.ts');
const SERVER_EXEC_ARGV = ['--expose-gc', ...TSX, '--import', PROBE];

export type Mode = 'off' | 'file' | 'sampled' | 'notail' | 'spans' | 'naive' | 'socketio' | 'floor' | 'floor-seq';
/** Every mode, in table order. */
export const ALL_MODES: readonly Mode[] = ['off', 'file', 'sampled', 'notail', 'spans', 'naive', 'socketio', 'floor', 'floor-seq'];
/**
 * The modes a run measures unless told otherwise (`spans` is a diagnostic: sampled minus the
 * export; `file` is `off` on a SQLite file with synchronous=FULL instead of `:memory:`; `notail`
 * is `sampled` without tail capture).
 */
export const MODES: readonly Mode[] = ['off', 'sampled', 'naive', 'socketio', 'floor', 'floor-seq'];
/** Modes served by the benchmark's own servers (bench/floor-server.ts, bench/socketio-server.ts), not by Guildhall. */
export type ReferenceMode = Extract<Mode, 'socketio' | 'floor' | 'floor-seq'>;
export const isReference = (mode: Mode): mode is ReferenceMode => mode === 'socketio' || mode === 'floor' || mode === 'floor-seq';
/** Which client a mode's driver runs. */
export const clientKind = (mode: Mode): 'guildhall' | 'floor' | 'socketio' => (mode === 'socketio' ? 'socketio' : isReference(mode) ? 'floor' : 'guildhall');

/** Environment without OTEL_* and GUILDHALL_* of the caller, so each mode gets exactly what it sets. */
function cleanEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('OTEL_') && !k.startsWith('GUILDHALL_')) env[k] = v;
  return { ...env, ...extra };
}

/**
 * What every benchmarked Guildhall server runs with: loopback, its own in-memory
 * database, dev accounts, a fresh secret, and the limits meant for real clients
 * off. `extra` adds to it (a mode's tracing, a heartbeat interval).
 */
export function guildhallServerEnv(port: number, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return cleanEnv({
    HOST: '127.0.0.1',
    PORT: String(port),
    LOG_LEVEL: 'warn',
    GUILDHALL_SEED: 'false',
    GUILDHALL_DEV_ACCOUNTS: 'true',
    GUILDHALL_TOKEN_SECRET: randomBytes(24).toString('base64url'),
    // The bench spreads thousands of sessions over ~100 users and connects them at
    // hundreds per second: far past a per-user identify limit meant for real clients.
    GUILDHALL_MAX_CONCURRENCY: '1000000',
    // The benchmarks measure fanout, not Discord's pacing of 5 messages per 5 s per channel.
    GUILDHALL_ROUTE_RATE_LIMITS: 'off',
    // Every server on its own database: several run at once, and none may touch ./data.
    DATABASE_URL: 'sqlite::memory:',
    ...extra,
  });
}

/** A port nothing listens on now (the OS's pick). */
/** A --a/--b flag: another checkout of Guildhall (its server/main.ts runs; it needs its node_modules, a symlink will do). */
export const checkoutSchema = z
  .string()
  .transform((p) => resolve(p))
  .refine((p) => existsSync(`${p}/server/main.ts`), 'must be a checkout holding server/main.ts');

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      const port = typeof a === 'object' && a ? a.port : 0;
      s.close(() => resolve(port));
    });
  });
}

/** Polls GET /healthz every 100 ms until it answers 200; throws when the child exits first or the time runs out. */
export async function waitHealthy(url: string, child: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`server exited with ${child.exitCode} before it was ready`);
    try {
      const res = await fetch(`${url}/healthz`);
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`server at ${url} not healthy within ${timeoutMs} ms`);
}

function once<T>(child: ChildProcess, predicate: (msg: unknown) => T | undefined, timeoutMs: number, what: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const onMessage = (msg: unknown) => {
      const err = (msg as { ev?: string; error?: string })?.ev === 'error' ? (msg as { error: string }).error : undefined;
      if (err) return finish(new Error(`${what}: ${err}`));
      const v = predicate(msg);
      if (v !== undefined) finish(undefined, v);
    };
    const onExit = (code: number | null) => finish(new Error(`${what}: child exited with ${code}`));
    const timer = setTimeout(() => finish(new Error(`${what}: no answer within ${timeoutMs} ms`)), timeoutMs);
    function finish(err?: Error, value?: T) {
      clearTimeout(timer);
      child.off('message', onMessage);
      child.off('exit', onExit);
      if (err) reject(err);
      else resolve(value as T);
    }
    child.on('message', onMessage);
    child.on('exit', onExit);
  });
}

/** Sends SIGTERM, then SIGKILL if it has not exited in `graceMs`. */
export async function stop(child: ChildProcess, graceMs = 5_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

export interface ServerUnderTest {
  mode: Mode;
  url: string;
  pid: number;
  child: ChildProcess;
}

/** Starts the OTLP sink; resolves with its port. */
export async function startSink(): Promise<{ port: number; child: ChildProcess }> {
  const child = spawn(process.execPath, [...TSX, 'bench/otlp-sink.ts'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit', 'ipc'], env: cleanEnv({}) });
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error('otlp sink did not start')), 30_000);
    child.stdout!.on('data', (d) => {
      out += d;
      const m = /\{"port":(\d+)\}/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
    child.once('exit', (code) => reject(new Error(`otlp sink exited with ${code}`)));
  });
  return { port, child };
}

/** The environment of each Guildhall mode. */
export function modeEnv(mode: Exclude<Mode, ReferenceMode>, sinkPort: number): Record<string, string> {
  switch (mode) {
    case 'off':
      return { OTEL_SDK_DISABLED: 'true' };
    case 'file':
      // A fresh file per server: what durable storage costs a broadcast, beside `off`.
      return { OTEL_SDK_DISABLED: 'true', DATABASE_URL: `sqlite:${join(mkdtempSync(join(tmpdir(), 'guildhall-bench-')), 'guildhall.db')}` };
    case 'sampled':
      // Tail capture at its default threshold (on).
      return { OTEL_TRACES_SAMPLER: 'always_on', OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${sinkPort}`, GUILDHALL_FANOUT_K: '10', GUILDHALL_SLOW_DELIVERY_MS: '100' };
    case 'notail':
      // As sampled, with tail capture off: sampled/notail is what tail capture costs.
      return { ...modeEnv('sampled', sinkPort), GUILDHALL_SLOW_DELIVERY_MS: '0' };
    case 'spans':
      // As sampled, but the spans go nowhere once ended: no exporter, no viewer.
      return { OTEL_TRACES_SAMPLER: 'always_on', GUILDHALL_FANOUT_K: '10', GUILDHALL_TRACE_VIEWER: 'off' };
    case 'naive':
      return { OTEL_TRACES_SAMPLER: 'always_on', OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${sinkPort}`, GUILDHALL_FANOUT_K: '1000000000' };
  }
}

export interface ServerOptions {
  /** Write a V8 CPU profile of the server (node --cpu-prof) into this folder when it stops. */
  cpuProfileDir?: string | undefined;
  /** Variables set last, over the mode's (the soak's log level, GUILDHALL_SLOW_DELIVERY_MS=0, say). */
  env?: Record<string, string>;
  /** Run the server on this CPU only (taskset). */
  cpu?: number | undefined;
  /** Node flags before the rest (V8's heap sizes, say). */
  nodeFlags?: string[];
  /** A Guildhall mode runs the server of this checkout (a before/after in one sitting); default this one. */
  root?: string;
  /** Run server/main.ts through tsx instead of the compiled server (`npm start`'s dist/server/main.js). */
  fromSource?: boolean;
}

const compiled = new Map<string, string>();
/**
 * The checkout's server compiled as `npm start` compiles it, once per checkout per run. Benchmarks
 * measure what users run: tsx's transform keeps every function's name, which costs a defineProperty
 * call per closure made (per delivery on some paths), and the shipped server pays none of that.
 * The preloaded memory probe still goes through tsx, which leaves compiled .js files as they are.
 */
export function compiledServer(root: string): string {
  let entry = compiled.get(root);
  if (entry === undefined) {
    execFileSync(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', join(root, 'tsconfig.build.json')], { cwd: root, stdio: 'inherit' });
    entry = join(root, 'dist/server/main.js');
    compiled.set(root, entry);
  }
  return entry;
}

/** Restricts `pid` and all its threads to `cpu` (threads made later inherit it). */
export function pin(pid: number, cpu: number): void {
  execFileSync('taskset', ['-a', '-p', '-c', String(cpu), String(pid)], { stdio: 'ignore' });
}

/** Asks a server child's probe (bench/session-memory-probe.ts) and waits for its answer `ev`. */
export async function askServer<T>(child: ChildProcess, request: ProbeRequest, ev: string, timeoutMs: number): Promise<T> {
  const answer = once(child, (m) => ((m as { ev?: string }).ev === ev ? (m as T) : undefined), timeoutMs, `probe ${request.cmd}`);
  child.send(request);
  return answer;
}

export async function startServer(mode: Mode, sinkPort: number, options: ServerOptions = {}): Promise<ServerUnderTest> {
  const s = await startUnpinned(mode, sinkPort, options);
  if (options.cpu !== undefined) pin(s.pid, options.cpu);
  return s;
}

async function startUnpinned(mode: Mode, sinkPort: number, options: ServerOptions): Promise<ServerUnderTest> {
  // The profile is written when the server exits on its own (stop() sends SIGTERM, which every server handles).
  const profile = options.cpuProfileDir === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${options.cpuProfileDir}`];
  if (isReference(mode)) {
    const [script, args] = mode === 'socketio' ? ['bench/socketio-server.ts', []] : ['bench/floor-server.ts', mode === 'floor-seq' ? ['--seq'] : []];
    const child = fork(script, args, { cwd: ROOT, execArgv: [...profile, ...(options.nodeFlags ?? []), ...SERVER_EXEC_ARGV], env: cleanEnv({}), stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    const port = await once(child, (m) => ((m as { ev?: string }).ev === 'listening' ? (m as { port: number }).port : undefined), 120_000, `${mode} server`);
    return { mode, url: `http://127.0.0.1:${port}`, pid: child.pid!, child };
  }
  const port = await freePort();
  const env = guildhallServerEnv(port, {
    ...modeEnv(mode, sinkPort),
    ...options.env,
  });
  const root = options.root ?? ROOT;
  const entry = options.fromSource === true ? 'server/main.ts' : compiledServer(root);
  const child = spawn(process.execPath, [...profile, ...(options.nodeFlags ?? []), ...SERVER_EXEC_ARGV, entry], { cwd: root, env, stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  const url = `http://127.0.0.1:${port}`;
  await waitHealthy(url, child, 120_000).catch(async (err: unknown) => {
    await stop(child);
    throw err;
  });
  return { mode, url, pid: child.pid!, child };
}

/** A client process driving one server. */
export class ClientDriver {
  private constructor(readonly child: ChildProcess) {}

  /** `cpu`: run the client process on this CPU only (taskset). */
  static start(cpu?: number): ClientDriver {
    const child = fork('bench/client-driver.ts', [], { cwd: ROOT, execArgv: TSX, env: cleanEnv({}), stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    if (cpu !== undefined) pin(child.pid!, cpu);
    return new ClientDriver(child);
  }

  private ask<T>(command: DriverCommand, ev: string, timeoutMs: number): Promise<T> {
    const answer = once(this.child, (m) => ((m as { ev?: string }).ev === ev ? (m as T) : undefined), timeoutMs, `client driver ${command.cmd}`);
    this.child.send(command);
    return answer;
  }

  async setup(s: ServerUnderTest, sessions: number, users: number, connectRate: number): Promise<void> {
    await this.ask({ cmd: 'setup', kind: clientKind(s.mode), url: s.url, sessions, users, workers: 0, connectRate, seed: 1 }, 'setup-done', 300_000);
  }

  async connect(): Promise<number> {
    return (await this.ask<{ connected: number }>({ cmd: 'connect' }, 'connected', 300_000)).connected;
  }

  /** `unsampled`: the posts ask the server not to trace them (Guildhall servers only). */
  /** `maxInFlight`: posts awaiting their answer at once (client-sim's default, 16, when undefined). */
  async burst(messages: number, rate: number, unsampled = false, timeoutMs = 60_000, maxInFlight?: number): Promise<BurstResult> {
    return (await this.ask<{ result: BurstResult }>({ cmd: 'burst', messages, rate, unsampled, timeoutMs, maxInFlight }, 'burst-done', timeoutMs + 60_000)).result;
  }

  async close(): Promise<void> {
    await this.ask({ cmd: 'close' }, 'closed', 30_000).catch(() => undefined);
    await stop(this.child, 3_000);
  }
}
