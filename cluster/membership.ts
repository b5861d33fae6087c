// Which nodes make up the cluster: each node keeps an entry in the JetStream
// KV bucket `${cluster}-nodes`, whose entries the server removes `ttlMs` after
// their last write (the stream's max_age), and rewrites it every ttlMs / 3.
// The live set is read from one long-lived KV watch of the bucket (every
// node's heartbeats pushed to every node as they land), not by listing and
// reading the bucket each heartbeat: a listing made a consumer on the server
// and a round trip per node every second on every node. The set is worked
// out on the heartbeat's cadence ("a scan", now local).
//
// A watcher is not told when max_age removes an entry, so liveness is our own
// check: an entry whose revision has not moved within ttlMs by our monotonic
// clock is dead (a node that heartbeats moves it every ttlMs / 3). It uses no
// clock but ours, so it holds whatever the skew between machines. The watch's
// first values are entries already in the bucket, of unknown age to us: each
// is aged by the server's own timestamps, against our own entry written just
// before, so a node that just joined keeps a dead node no longer than the
// server's expiry would.
//
// The watch is ordered (no gaps, in stream order), so once it delivered our
// own latest heartbeat it delivered everything written before it. A scan
// trusts it only while our own entry moved on it recently (within 2/3 of the
// ttl, before any other entry could reach the ttl unseen): otherwise (cut off
// from NATS, the watch stalled) the scan is counted failed and the last live
// set stands. A node cut off cannot learn anything new; its leases, not its
// membership view, are what stop it serving (cluster/leases.ts). Nothing here
// throws out of a timer: a failed heartbeat is counted and the next tick tries
// again; each KV request gives up after the ttl; a watch that ends is opened
// again at the next tick.
import { performance } from 'node:perf_hooks';
import type { NatsConnection } from '@nats-io/transport-node';
import { type KV, type KvWatchEntry, Kvm } from '@nats-io/kv';
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
  /** Scans not made because the watch was not up to date (our own heartbeat not seen on it lately). */
  scanFailures: number;
  /** Watches opened (1, plus one per watch that ended and was opened again). */
  watches: number;
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
  readonly stats: MembershipStats = { heartbeats: 0, heartbeatFailures: 0, changes: 0, scans: 0, scanFailures: 0, watches: 0, malformed: 0 };
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
  private watch: { stop(): void } | undefined;
  private watching: Promise<void> | undefined;
  /** Our clock when the watch last showed our own entry move: how fresh the watch is. */
  private selfSeenAt = -Infinity;
  /** Our latest write of our own entry (its revision): the watch is in sync once it shows it. */
  private selfRevision = 0;
  /** While the watch delivers what the bucket held when it opened: those entries, aged once our own shows up. */
  private initial: KvWatchEntry[] | undefined;
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
    // The first live set is read before join returns: the watch's first values, up to our own entry.
    try {
      await membership.openWatch(Math.max(ttlMs, 500));
    } catch (err) {
      await membership.close();
      throw err;
    }
    membership.scan();
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
    const revision = await this.put();
    // What we wrote is what the watch will show: seen by this node at once.
    this.seen.set(this.key, { info: this.self, revision, movedAt: this.now() });
    this.scan(true);
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
    this.watch?.stop();
    // A heartbeat in flight must land before a leave() deletes the entry, or it would write it back.
    await Promise.all([this.putting, this.watching]);
  }

  private async put(): Promise<number> {
    const revision = await this.kv.put(this.key, JSON.stringify(this.self));
    this.selfRevision = Math.max(this.selfRevision, revision);
    return revision;
  }

  private tick(): void {
    if (this.stopped) return;
    this.putting ??= this.put().then(
      () => void this.stats.heartbeats++,
      () => void this.stats.heartbeatFailures++,
    ).finally(() => (this.putting = undefined));
    // A watch that ended (its consumer gone, the connection closed for good) is opened again.
    if (this.watching === undefined) void this.openWatch(this.ttlMs).catch(() => undefined);
    this.scan();
  }

  /**
   * Opens the watch and resolves once it has shown our own latest entry (so
   * every entry written before it), or rejects after `timeoutMs`. The watch
   * then runs until close() or until it ends by itself.
   */
  private async openWatch(timeoutMs: number): Promise<void> {
    this.initial = [];
    this.stats.watches++;
    let synced!: () => void;
    const inSync = new Promise<void>((resolve) => (synced = resolve));
    const watching = (async () => {
      const iterator = await this.kv.watch();
      this.watch = iterator;
      if (this.stopped) iterator.stop();
      for await (const entry of iterator) {
        if (this.see(entry)) synced();
      }
    })()
      .catch(() => undefined)
      .finally(() => {
        if (this.watching === watching) this.watching = undefined;
        this.watch = undefined;
      });
    this.watching = watching;
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`membership watch not in sync within ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      await Promise.race([inSync, late, watching.then(() => Promise.reject(new Error('membership watch ended')))]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** One entry from the watch; true when it is our own latest write (the watch is in sync). */
  private see(entry: KvWatchEntry): boolean {
    const own = entry.key === this.key;
    if (this.initial !== undefined) {
      this.initial.push(entry);
      if (!own || entry.revision < this.selfRevision) return false;
      // Our own entry was written just before the watch opened: the others' age is their distance from it, on the server's clock.
      const now = this.now();
      const serverNow = entry.created.getTime();
      for (const e of this.initial.splice(0)) this.record(e, now - Math.max(0, serverNow - e.created.getTime()));
      this.initial = undefined;
      return true;
    }
    this.record(entry, this.now());
    if (entry.operation !== 'PUT') this.scan();
    return own && entry.revision >= this.selfRevision;
  }

  private record(entry: KvWatchEntry, movedAt: number): void {
    if (entry.operation !== 'PUT') {
      this.seen.delete(entry.key);
      return;
    }
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
    if (entry.key === this.key) this.selfSeenAt = Math.max(this.selfSeenAt, movedAt);
    const before = this.seen.get(entry.key);
    if (before !== undefined && before.revision >= entry.revision) return;
    this.seen.set(entry.key, { info: parsed.data, revision: entry.revision, movedAt });
  }

  /**
   * Works out the live set from what the watch showed. Made only while the
   * watch is fresh (our own entry moved on it within 2/3 of the ttl), unless
   * `own` (this node's own write, known without the watch).
   */
  private scan(own = false): void {
    const now = this.now();
    if (!own && (this.initial !== undefined || now - this.selfSeenAt > this.ttlMs - this.intervalMs)) {
      this.stats.scanFailures++;
      return;
    }
    this.stats.scans++;
    const live: NodeInfo[] = [];
    for (const [key, seen] of this.seen) {
      if (now - seen.movedAt <= this.ttlMs) live.push(seen.info);
      // Dead: forgotten (the server expires its entry too), so the nodes that come and go do not pile up here.
      else this.seen.delete(key);
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
}
