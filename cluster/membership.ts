// Which nodes make up the cluster: each node keeps an entry in the JetStream
// KV bucket `${cluster}-nodes`, whose entries the server removes `ttlMs` after
// their last write (the stream's max_age), and rewrites it every ttlMs / 3.
// The live set is what the bucket holds, read by a scan after every heartbeat:
// KV watchers are not told when max_age removes an entry, so a scan is the
// only way to see a node that stopped without saying so.
//
// Two things keep a dead node from lingering: the server's expiry, and our own
// check that every entry's revision moved within ttlMs by our monotonic clock
// (a node that heartbeats bumps it every ttlMs / 3). The second uses no clock
// but ours, so it holds whatever the skew between machines; the server's
// expiry bounds what a node that just joined can see of an entry it never saw move.
//
// Heartbeats and scans run side by side on one cadence, so a slow scan never
// delays the heartbeat that keeps this node in. Nothing here throws out of a
// timer: a failed heartbeat or scan is counted and the next tick tries again;
// each KV request gives up after the ttl. While scans fail the last live set stands
// (a node cut off from NATS cannot learn anything new; its leases, not its
// membership view, are what stop it serving: cluster/leases.ts).
import { performance } from 'node:perf_hooks';
import type { NatsConnection } from '@nats-io/transport-node';
import { type KV, Kvm } from '@nats-io/kv';
import { jetstream } from '@nats-io/jetstream';
import { z } from 'zod';
import { bucketName, encodeKey } from './kv-names.js';

export interface NodeInfo {
  id: string;
  /** Where clients and other nodes reach it (its public URL). */
  url: string;
  state: 'up' | 'draining';
  /** Wall-clock ms when it joined. */
  startedAt: number;
}

export interface MembershipOptions {
  nats: NatsConnection;
  /** Names the bucket: `${cluster}-nodes`. */
  cluster: string;
  self: Omit<NodeInfo, 'state' | 'startedAt'>;
  /** Entry expiry (default 3000); a heartbeat every ttlMs / 3. */
  ttlMs?: number;
  /** Monotonic ms, for tests. */
  clock?: () => number;
  /** Told of a listener that threw (the heartbeat goes on); default: a process warning. */
  onError?: (err: unknown) => void;
}

export interface MembershipStats {
  heartbeats: number;
  heartbeatFailures: number;
  /** Scans that changed the live set. */
  changes: number;
  scans: number;
  scanFailures: number;
  /** Entries skipped because they did not parse as a NodeInfo. */
  malformed: number;
}

const nodeInfoSchema = z.object({
  id: z.string().min(1),
  url: z.string(),
  state: z.enum(['up', 'draining']),
  startedAt: z.number(),
});

/** An entry as last scanned, and when (our clock) its revision last moved. */
interface Seen {
  info: NodeInfo;
  revision: number;
  movedAt: number;
}

const DEFAULT_TTL_MS = 3_000;

export class Membership {
  readonly stats: MembershipStats = { heartbeats: 0, heartbeatFailures: 0, changes: 0, scans: 0, scanFailures: 0, malformed: 0 };
  private readonly key: string;
  private readonly ttlMs: number;
  private readonly intervalMs: number;
  private readonly now: () => number;
  private readonly onError: (err: unknown) => void;
  private readonly listeners = new Set<(live: readonly NodeInfo[]) => void>();
  private readonly seen = new Map<string, Seen>();
  private liveNodes: readonly NodeInfo[] = [];
  private placeableIds: readonly string[] = [];
  private signature = '';
  private self: NodeInfo;
  private timer: NodeJS.Timeout | undefined;
  private putting: Promise<void> | undefined;
  private scanning: Promise<void> | undefined;
  private stopped = false;

  private constructor(
    private readonly kv: KV,
    options: MembershipOptions,
  ) {
    this.ttlMs = options.ttlMs ?? DEFAULT_TTL_MS;
    this.intervalMs = Math.max(1, Math.floor(this.ttlMs / 3));
    this.now = options.clock ?? (() => performance.now());
    this.onError = options.onError ?? ((err) => process.emitWarning(`membership listener threw: ${String(err)}`));
    this.self = { id: options.self.id, url: options.self.url, state: 'up', startedAt: Date.now() };
    this.key = encodeKey(this.self.id);
  }

  /** Creates or opens the bucket, writes this node's entry and reads the live set once. */
  static async join(options: MembershipOptions): Promise<Membership> {
    const ttlMs = options.ttlMs ?? DEFAULT_TTL_MS;
    if (!Number.isFinite(ttlMs) || ttlMs < 3) throw new RangeError(`ttlMs must be at least 3 ms, got ${ttlMs}`);
    const name = bucketName(options.cluster, 'nodes');
    encodeKey(options.self.id);
    // A KV answer later than the ttl is of no use to a heartbeat or a scan.
    const js = jetstream(options.nats, { timeout: Math.max(ttlMs, 500) });
    const kv = await new Kvm(js).create(name, { ttl: ttlMs, history: 1 });
    const membership = new Membership(kv, options);
    await membership.put();
    membership.stats.heartbeats++;
    await membership.scan();
    membership.timer = setInterval(() => membership.tick(), membership.intervalMs);
    membership.timer.unref();
    return membership;
  }

  /** Live nodes, sorted by id; draining ones included. */
  live(): readonly NodeInfo[] {
    return this.liveNodes;
  }

  /** Ids of live nodes in state 'up', sorted: what placement runs over. */
  placeable(): readonly string[] {
    return this.placeableIds;
  }

  /** Called after each scan that changed the set (ids, states or urls); returns the unsubscribe. */
  onChange(listener: (live: readonly NodeInfo[]) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Marks this node 'draining': still live, no longer placeable. Resolves once written and re-read. */
  async drain(): Promise<void> {
    this.self = { ...this.self, state: 'draining' };
    await this.put();
    await this.scan();
  }

  /** Deletes this node's entry and stops heartbeating: others see it gone at their next scan. */
  async leave(): Promise<void> {
    await this.close();
    await this.kv.delete(this.key);
  }

  /** Stops heartbeating and scanning, leaving the entry to expire (as a crash would). */
  async close(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    this.timer = undefined;
    // A heartbeat in flight must land before a leave() deletes the entry, or it would write it back.
    await Promise.all([this.putting, this.scanning]);
  }

  private put(): Promise<number> {
    return this.kv.put(this.key, JSON.stringify(this.self));
  }

  private tick(): void {
    if (this.stopped) return;
    this.putting ??= this.put().then(
      () => void this.stats.heartbeats++,
      () => void this.stats.heartbeatFailures++,
    ).finally(() => (this.putting = undefined));
    this.scanning ??= this.scan().finally(() => (this.scanning = undefined));
  }

  private async scan(): Promise<void> {
    let entries: Map<string, { info: NodeInfo; revision: number }>;
    try {
      entries = await this.read();
    } catch {
      this.stats.scanFailures++;
      return;
    }
    this.stats.scans++;
    const now = this.now();
    for (const key of this.seen.keys()) if (!entries.has(key)) this.seen.delete(key);
    const live: NodeInfo[] = [];
    for (const [key, entry] of entries) {
      const before = this.seen.get(key);
      const seen = before === undefined || before.revision !== entry.revision ? { ...entry, movedAt: now } : { ...before, info: entry.info };
      this.seen.set(key, seen);
      if (now - seen.movedAt <= this.ttlMs) live.push(seen.info);
    }
    live.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    const signature = JSON.stringify(live.map((n) => [n.id, n.state, n.url]));
    if (signature === this.signature) return;
    this.signature = signature;
    this.liveNodes = Object.freeze(live);
    this.placeableIds = Object.freeze(live.filter((n) => n.state === 'up').map((n) => n.id));
    this.stats.changes++;
    for (const listener of [...this.listeners]) {
      try {
        listener(this.liveNodes);
      } catch (err) {
        this.onError(err);
      }
    }
  }

  /** Every entry of the bucket now, by key. */
  private async read(): Promise<Map<string, { info: NodeInfo; revision: number }>> {
    const keys: string[] = [];
    const listing = await this.kv.keys();
    // A listing whose connection drops can wait for ever: stop it at the ttl and count the scan failed.
    let late = false;
    const timer = setTimeout(() => {
      late = true;
      listing.stop();
    }, this.ttlMs);
    try {
      for await (const key of listing) keys.push(key);
    } finally {
      clearTimeout(timer);
    }
    if (late) throw new Error('membership scan timed out');
    const out = new Map<string, { info: NodeInfo; revision: number }>();
    await Promise.all(
      keys.map(async (key) => {
        const entry = await this.kv.get(key);
        // Deleted, or expired, between the key listing and the read.
        if (entry === null || entry.operation !== 'PUT') return;
        let parsed: ReturnType<typeof nodeInfoSchema.safeParse>;
        try {
          parsed = nodeInfoSchema.safeParse(entry.json());
        } catch {
          parsed = nodeInfoSchema.safeParse(undefined);
        }
        if (!parsed.success) {
          this.stats.malformed++;
          return;
        }
        out.set(key, { info: parsed.data, revision: entry.revision });
      }),
    );
    return out;
  }
}
