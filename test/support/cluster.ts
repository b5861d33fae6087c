// Starts cluster nodes (test/support/cluster-node.ts) in child processes and
// talks to them over IPC. Every test run gets its own NATS subject prefix, so
// concurrent runs on one NATS server never hear each other.
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import type { Address } from '../../actors/index.js';

export const NATS_URL = process.env.NATS_URL ?? 'nats://127.0.0.1:4222';

const SCRIPT = fileURLToPath(new URL('./cluster-node.ts', import.meta.url));

export function uniquePrefix(label = 'test'): string {
  return `guildhall-${label}-${process.pid}-${randomBytes(4).toString('hex')}`;
}

export interface DownEvent {
  address: Address;
  reason: { type: string; node?: string };
  at: number;
}

export interface CallFailure {
  ok: false;
  code: string;
  message: string;
}

export interface NodeProcess {
  readonly name: string;
  readonly child: ChildProcess;
  readonly downs: DownEvent[];
  /** Resolves with the command's value; rejects with an Error whose `code` is the actor error code. */
  request<T = unknown>(cmd: string, args?: Record<string, unknown>): Promise<T>;
  /** The command's outcome either way (for calls expected to fail). */
  attempt(cmd: string, args?: Record<string, unknown>): Promise<{ ok: true; value: unknown } | CallFailure>;
  addr(id: string): Address;
  /** Resolves when `predicate` holds for the down events seen so far. */
  waitForDowns(predicate: (downs: DownEvent[]) => boolean, timeoutMs: number): Promise<DownEvent[]>;
  kill(signal?: NodeJS.Signals): void;
  readonly exited: Promise<number | null>;
}

export interface NodeOptions {
  prefix: string;
  heartbeatMs?: number;
  downAfterMs?: number;
  otlpUrl?: string;
  /** Tracing on without export (spans made, then dropped). */
  tracing?: boolean;
}

export async function startNode(name: string, options: NodeOptions): Promise<NodeProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', SCRIPT], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const pending = new Map<number, (m: { ok: boolean; value?: unknown; code?: string; message?: string }) => void>();
  const downs: DownEvent[] = [];
  const downWaiters = new Set<() => void>();
  let seq = 0;
  const ready = new Promise<void>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`node ${name} exited (${code}) before it was ready`)));
    child.on('message', (m: { event?: string; id?: number } & Record<string, unknown>) => {
      if (m.event === 'ready') resolve();
      else if (m.event === 'down') {
        downs.push(m as unknown as DownEvent);
        for (const w of downWaiters) w();
      } else if (m.id !== undefined) {
        pending.get(m.id)?.(m as never);
        pending.delete(m.id);
      }
    });
  });
  child.once('exit', () => {
    for (const settle of pending.values()) settle({ ok: false, code: 'EXITED', message: `node ${name} exited` });
    pending.clear();
  });
  const attempt = (cmd: string, args: Record<string, unknown> = {}) =>
    new Promise<{ ok: true; value: unknown } | CallFailure>((resolve) => {
      if (!child.connected) {
        resolve({ ok: false, code: 'EXITED', message: `node ${name} is gone` });
        return;
      }
      const id = ++seq;
      pending.set(id, (m) => resolve(m.ok ? { ok: true, value: m.value } : { ok: false, code: m.code ?? 'ERROR', message: m.message ?? '' }));
      child.send({ id, cmd, args });
    });
  const node: NodeProcess = {
    name,
    child,
    downs,
    attempt,
    async request<T>(cmd: string, args: Record<string, unknown> = {}): Promise<T> {
      const r = await attempt(cmd, args);
      if (r.ok) return r.value as T;
      throw Object.assign(new Error(`${name} ${cmd}: ${r.code} ${r.message}`), { code: r.code });
    },
    addr: (id) => ({ node: name, id, kind: 'worker' }),
    waitForDowns(predicate, timeoutMs) {
      return new Promise((resolve, reject) => {
        const check = () => {
          if (!predicate(downs)) return;
          downWaiters.delete(check);
          clearTimeout(timer);
          resolve(downs);
        };
        const timer = setTimeout(() => {
          downWaiters.delete(check);
          reject(new Error(`${name}: down events not seen within ${timeoutMs} ms: ${JSON.stringify(downs)}`));
        }, timeoutMs);
        downWaiters.add(check);
        check();
      });
    },
    kill: (signal = 'SIGKILL') => void child.kill(signal),
    exited,
  };
  await ready;
  await node.request('init', { node: name, prefix: options.prefix, heartbeatMs: options.heartbeatMs ?? 200, downAfterMs: options.downAfterMs ?? 1_000, otlpUrl: options.otlpUrl, tracing: options.tracing, natsUrl: NATS_URL });
  return node;
}

/** Ends nodes still running: a clean close, then a kill if one does not exit promptly. */
export async function stopNodes(nodes: NodeProcess[]): Promise<void> {
  await Promise.all(
    nodes.map(async (n) => {
      if (n.child.exitCode !== null || n.child.signalCode !== null) return;
      await Promise.race([n.attempt('close'), new Promise((r) => setTimeout(r, 3_000))]);
      if (n.child.connected) n.child.disconnect();
      const timer = setTimeout(() => n.kill(), 3_000);
      await n.exited;
      clearTimeout(timer);
    }),
  );
}
