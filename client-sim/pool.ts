// The sessions of a run, spread over hosts: the main thread alone for small
// runs, or worker threads when one event loop cannot parse every frame of
// ten thousand sessions. Session i lives on host i % hosts. Everything the
// scenarios do to sessions goes through here.
import { Worker } from 'node:worker_threads';
import type { Registration } from './accounting.js';
import { now, sleep } from './clock.js';
import { type HostCommand, type HostInit, type HostResult, type HostStats, SessionHost } from './host.js';
import type { SessionSpec } from './session.js';

interface HostHandle {
  call(cmd: HostCommand): Promise<unknown>;
  /** Posts without waiting for the reply (registrations). */
  post(cmd: HostCommand): void;
  terminate(): Promise<void>;
}

class InlineHandle implements HostHandle {
  constructor(private readonly host: SessionHost) {}
  call(cmd: HostCommand): Promise<unknown> {
    return this.host.handle(cmd);
  }
  post(cmd: HostCommand): void {
    void this.host.handle(cmd);
  }
  async terminate(): Promise<void> {}
}

/** Worker replies never take longer than this; a stuck worker fails the call instead of the run hanging. */
const WORKER_CALL_TIMEOUT_MS = 5 * 60_000;

class WorkerHandle implements HostHandle {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }>();

  constructor(private readonly worker: Worker) {
    worker.on('message', (msg: { id: number; ok: boolean; value?: unknown; error?: string }) => {
      const p = this.pending.get(msg.id);
      if (!p) return;
      this.pending.delete(msg.id);
      clearTimeout(p.timer);
      if (msg.ok) p.resolve(msg.value);
      else p.reject(new Error(`worker: ${msg.error}`));
    });
    worker.on('error', (err) => this.rejectAll(err));
    worker.on('exit', (code) => this.rejectAll(new Error(`worker exited with ${code}`)));
  }

  call(cmd: HostCommand): Promise<unknown> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`worker did not answer ${cmd.type} within ${WORKER_CALL_TIMEOUT_MS} ms`));
      }, WORKER_CALL_TIMEOUT_MS);
      this.pending.set(id, { resolve, reject, timer });
      this.worker.postMessage({ id, cmd });
    });
  }

  post(cmd: HostCommand): void {
    this.call(cmd).catch(() => {});
  }

  async terminate(): Promise<void> {
    await this.worker.terminate();
  }

  private rejectAll(err: Error): void {
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      p.reject(err);
    }
    this.pending.clear();
  }
}

/**
 * The worker entry next to this file: worker.js when built; under tsx (and
 * vitest) worker.ts, loaded through a tiny bootstrap that registers tsx in
 * the worker first (on Node 20 a worker's `--import tsx` does not take).
 */
function spawnWorker(init: HostInit): Worker {
  if (!import.meta.url.endsWith('.ts')) return new Worker(new URL('./worker.js', import.meta.url), { workerData: init });
  const entry = new URL('./worker.ts', import.meta.url).href;
  const bootstrap = `import('tsx/esm/api').then((api) => { api.register(); return import(${JSON.stringify(entry)}); });`;
  return new Worker(bootstrap, { eval: true, workerData: init });
}

export type PoolSessionSpec = Omit<SessionSpec, 'slot'>;

export interface PoolStats extends HostStats {
  /** Global indices of sessions that are connected and have every GUILD_CREATE (when asked for). */
  ready: number[];
}

export class SessionPool {
  private constructor(
    private readonly hosts: HostHandle[],
    readonly size: number,
  ) {}

  /**
   * `gatewayUrls`: one per node (with the query string); session i starts at node i % nodes unless
   * its spec says otherwise. `restUrls`: the nodes' REST base URLs (history reads).
   */
  static async start(options: { gatewayUrls: string[]; restUrls: string[]; sessions: PoolSessionSpec[]; labels: Record<string, string>; workers: number }): Promise<SessionPool> {
    const n = Math.max(1, options.workers);
    const inits: HostInit[] = Array.from({ length: n }, () => ({ gatewayUrls: options.gatewayUrls, restUrls: options.restUrls, sessions: [], memberships: [], labels: options.labels }));
    const members: Array<Map<string, number[]>> = inits.map(() => new Map());
    options.sessions.forEach((spec, i) => {
      const h = i % n;
      const slot = inits[h]!.sessions.length;
      inits[h]!.sessions.push({ node: i % options.gatewayUrls.length, ...spec, slot });
      for (const g of spec.guildIds) {
        let list = members[h]!.get(g);
        if (!list) members[h]!.set(g, (list = []));
        list.push(slot);
      }
    });
    inits.forEach((init, h) => (init.memberships = [...members[h]!]));
    const hosts: HostHandle[] = options.workers === 0 ? [new InlineHandle(new SessionHost(inits[0]!))] : inits.map((init) => new WorkerHandle(spawnWorker(init)));
    const pool = new SessionPool(hosts, options.sessions.length);
    // A worker that cannot load fails here, not halfway through the run.
    await Promise.all(hosts.map((h) => h.call({ type: 'stats' })));
    return pool;
  }

  private where(index: number): { host: number; slot: number } {
    const n = this.hosts.length;
    return { host: index % n, slot: Math.floor(index / n) };
  }

  private global(host: number, slot: number): number {
    return slot * this.hosts.length + host;
  }

  private split(indices: readonly number[]): number[][] {
    const out: number[][] = this.hosts.map(() => []);
    for (const i of indices) {
      const { host, slot } = this.where(i);
      out[host]!.push(slot);
    }
    return out;
  }

  /** Connects the sessions at `perSecond` in total; resolves when the last IDENTIFY left (not when READY). */
  async connect(indices: readonly number[], perSecond: number): Promise<void> {
    const parts = this.split(indices);
    await Promise.all(parts.map((slots, h) => (slots.length ? this.hosts[h]!.call({ type: 'connect', slots, perSecond: perSecond / this.hosts.length }) : undefined)));
  }

  async cut(indices: readonly number[]): Promise<void> {
    const parts = this.split(indices);
    await Promise.all(parts.map((slots, h) => (slots.length ? this.hosts[h]!.call({ type: 'cut', slots }) : undefined)));
  }

  async resume(indices: readonly number[], perSecond: number): Promise<void> {
    const parts = this.split(indices);
    await Promise.all(parts.map((slots, h) => (slots.length ? this.hosts[h]!.call({ type: 'resume', slots, perSecond: perSecond / this.hosts.length }) : undefined)));
  }

  register(reg: Registration): void {
    for (const h of this.hosts) h.post({ type: 'register', reg });
  }

  complete(key: string, at: number): void {
    for (const h of this.hosts) h.post({ type: 'complete', key, at });
  }

  fail(key: string): void {
    for (const h of this.hosts) h.post({ type: 'fail', key });
  }

  /** Has session `index` send a tracked presence update and announces it to every host. */
  async presence(index: number, key: string, status: 'online' | 'idle' | 'dnd'): Promise<boolean> {
    const { host, slot } = this.where(index);
    const sent = (await this.hosts[host]!.call({ type: 'presence', slot, key, status })) as { sentAt: number; guildIds: string[] } | undefined;
    if (!sent) return false;
    this.register({ key, kind: 'presence', guildIds: sent.guildIds, sentAt: sent.sentAt });
    return true;
  }

  async stats(withReady = false): Promise<PoolStats> {
    const all = (await Promise.all(this.hosts.map((h) => h.call({ type: 'stats', slots: withReady })))) as HostStats[];
    const total: PoolStats = { sessions: 0, connected: 0, complete: 0, failed: 0, events: 0, errors: 0, outstanding: 0, ready: [] };
    all.forEach((s, h) => {
      total.sessions += s.sessions;
      total.connected += s.connected;
      total.complete += s.complete;
      total.failed += s.failed;
      total.events += s.events;
      total.errors += s.errors;
      total.outstanding += s.outstanding;
      for (const slot of s.readySlots ?? []) total.ready.push(this.global(h, slot));
    });
    total.ready.sort((a, b) => a - b);
    return total;
  }

  /** Polls until `done(stats)` holds or `timeoutMs` passes; returns the last stats and whether it held. */
  async waitFor(done: (s: PoolStats) => boolean, timeoutMs: number, pollMs = 100): Promise<{ ok: boolean; stats: PoolStats }> {
    const deadline = now() + timeoutMs;
    for (;;) {
      const stats = await this.stats();
      if (done(stats)) return { ok: true, stats };
      if (now() >= deadline) return { ok: false, stats };
      await sleep(Math.min(pollMs, deadline - now()));
    }
  }

  /** Starts every host's histograms afresh (per-burst figures in the benchmark). */
  async resetHistograms(): Promise<void> {
    await Promise.all(this.hosts.map((h) => h.call({ type: 'reset-histograms' })));
  }

  async results(): Promise<HostResult[]> {
    return (await Promise.all(this.hosts.map((h) => h.call({ type: 'result' })))) as HostResult[];
  }

  /** Closes every socket (bounded), then stops the workers. */
  async close(): Promise<void> {
    await Promise.all(this.hosts.map((h) => h.call({ type: 'close' }).catch(() => undefined)));
    await Promise.all(this.hosts.map((h) => h.terminate()));
  }
}
