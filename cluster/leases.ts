// Who may run what: a lease per key (a guild) in the JetStream KV bucket
// `${cluster}-leases`, whose entries the server removes ttlMs after their last
// write (the stream's max_age). Every write is a compare-and-set on the
// entry's revision, so exactly one table wins a key:
//   acquire  create-if-absent; or take over a RELEASED entry by its revision
//            (getting the handoff the releaser left in it)
//   renew    every renewMs, update by revision (all held leases at once)
//   release  update by revision to a released entry carrying the handoff
//            (a handoff too large for one NATS message is written first as
//            parts under keys of its own, which expire like any entry, and the
//            released entry names them)
//
// Partition safety (docs/cluster.md, "Leases"): a lease counts as ours only
// until `sentAt + ttlMs - marginMs`, where sentAt is when the last successful
// write of it was SENT (our monotonic clock). The server stored that write at
// or after sentAt, so the entry lives until at least sentAt + ttlMs, and no
// other table can create it before then. We stop first, by marginMs, which
// covers the lateness of our own timer and work in flight when it fires. The
// same deadline is checked synchronously by holds(), so a late timer never
// makes a lease look held past it.
//
// Nothing here throws out of a timer: a failed renewal is counted and the
// deadline decides.
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { NatsConnection } from '@nats-io/transport-node';
import { type KV, Kvm } from '@nats-io/kv';
import { JetStreamApiCodes } from '@nats-io/jetstream';
import { z } from 'zod';
import { bucketName, encodeKey } from './kv-names.js';

export type AcquireResult = { ok: true; handoff: unknown | undefined } | { ok: false; holder: string };

export type LostReason = 'expired' | 'conflict';

export interface LeaseOptions {
  nats: NatsConnection;
  /** Names the bucket: `${cluster}-${bucket}`. */
  cluster: string;
  /** The bucket's own part of the name (default `leases`, the guilds'). */
  bucket?: string;
  /** This node's id, written as the owner. */
  node: string;
  /** Entry expiry (default 6000). */
  ttlMs?: number;
  /** Renewal period (default ttlMs / 3). */
  renewMs?: number;
  /** How long before the entry can expire we count a lease lost (default ttlMs / 6). */
  marginMs?: number;
  /** Monotonic ms, for tests. */
  clock?: () => number;
  /** Told of a listener that threw; default: a process warning. */
  onError?: (err: unknown) => void;
}

export interface LeaseStats {
  acquired: number;
  released: number;
  lost: number;
  /** Revision checks that failed: an acquire race lost, or a renewal finding the entry changed. */
  conflicts: number;
  /** Acquires refused because another table holds the key. */
  refused: number;
  renewals: number;
  renewFailures: number;
  /** Releases whose write failed (the entry then expires by itself). */
  releaseFailures: number;
  /** Handoffs written in parts (too large for one message). */
  handoffsInParts: number;
  /** Handoffs given up: larger than MAX_HANDOFF_PARTS parts, or parts missing when read back. */
  handoffsDropped: number;
}

/** A handoff up to this size rides in the released entry itself. */
const INLINE_HANDOFF_BYTES = 128 * 1024;
/** Bytes per part of a larger one: well below NATS's default max_payload (1 MiB). */
const HANDOFF_PART_BYTES = 256 * 1024;
/** At most this many parts (16 MiB): past it the handoff is dropped and its sessions reconnect. */
const MAX_HANDOFF_PARTS = 64;

const leaseValueSchema = z.object({
  owner: z.string(),
  incarnation: z.string(),
  state: z.enum(['held', 'released']),
  handoff: z.unknown().optional(),
  /** Where a handoff written in parts is: keys `${kvKey}.${id}.${i}` for i < n. */
  handoffParts: z.object({ id: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/), n: z.number().int().min(1).max(MAX_HANDOFF_PARTS) }).optional(),
});
type LeaseValue = z.infer<typeof leaseValueSchema>;

interface Lease {
  readonly key: string;
  readonly kvKey: string;
  revision: number;
  /** When the last successful write of this lease was sent: the deadline runs from here. */
  sentAt: number;
  renewing: Promise<void> | undefined;
  /** Set once it is no longer ours to serve: what a renewal still in flight does with its result. */
  ending: 'released' | 'lost' | 'closed' | undefined;
}

const DEFAULT_TTL_MS = 6_000;

function isRevisionConflict(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === JetStreamApiCodes.StreamWrongLastSequence || code === JetStreamApiCodes.StreamWrongLastSequenceUnknown;
}

export class LeaseTable {
  readonly stats: LeaseStats = { acquired: 0, released: 0, lost: 0, conflicts: 0, refused: 0, renewals: 0, renewFailures: 0, releaseFailures: 0, handoffsInParts: 0, handoffsDropped: 0 };
  /** The expiry in force: the configured ttlMs, or the bucket's if that is shorter. */
  readonly ttlMs: number;
  /** ttlMs - marginMs: how long a lease is ours after its last successful write was sent. */
  readonly lifeMs: number;
  private readonly node: string;
  private readonly incarnation = randomBytes(8).toString('hex');
  private readonly renewMs: number;
  private readonly now: () => number;
  private readonly onError: (err: unknown) => void;
  private readonly leases = new Map<string, Lease>();
  private readonly acquiring = new Map<string, Promise<AcquireResult>>();
  private readonly releasing = new Map<string, Promise<void>>();
  private readonly listeners = new Set<(key: string, reason: LostReason) => void>();
  private readonly heldValue: string;
  private renewTimer: NodeJS.Timeout | undefined;
  private deadlineTimer: NodeJS.Timeout | undefined;
  private closed = false;
  private handoffSeq = 0;

  private constructor(
    private readonly kv: KV,
    options: LeaseOptions,
    ttlMs: number,
    renewMs: number,
    marginMs: number,
  ) {
    this.node = options.node;
    this.renewMs = renewMs;
    this.ttlMs = ttlMs;
    this.lifeMs = ttlMs - marginMs;
    this.now = options.clock ?? (() => performance.now());
    this.onError = options.onError ?? ((err) => process.emitWarning(`lease listener threw: ${String(err)}`));
    this.heldValue = JSON.stringify({ owner: this.node, incarnation: this.incarnation, state: 'held' } satisfies LeaseValue);
  }

  /** Creates or opens the bucket. */
  static async open(options: LeaseOptions): Promise<LeaseTable> {
    const configured = options.ttlMs ?? DEFAULT_TTL_MS;
    const renewMs = options.renewMs ?? Math.floor(configured / 3);
    const marginMs = options.marginMs ?? Math.floor(configured / 6);
    if (options.node === '') throw new RangeError('a lease table needs a node id');
    const name = bucketName(options.cluster, options.bucket ?? 'leases');
    const kv = await new Kvm(options.nats).create(name, { ttl: configured, history: 1 });
    // An existing bucket keeps the expiry it was made with. Shorter than ours
    // would let an entry expire before our deadline: run by the bucket's then.
    // Longer only delays failover.
    const bucketTtl = (await kv.status()).ttl;
    if (!(bucketTtl > 0)) throw new RangeError(`lease bucket ${name} has no expiry (max_age): a dead node's leases would never free; delete the bucket`);
    const ttlMs = Math.min(configured, bucketTtl);
    if (!(marginMs > 0 && renewMs > 0 && renewMs + marginMs < ttlMs)) {
      throw new RangeError(`leases need 0 < renewMs + marginMs < ttlMs (a renewal must be able to land before the deadline), got ttl ${ttlMs} (bucket ${bucketTtl}), renew ${renewMs}, margin ${marginMs}`);
    }
    const table = new LeaseTable(kv, options, ttlMs, renewMs, marginMs);
    table.scheduleRenewal();
    return table;
  }

  /**
   * Takes the lease of `key` if nobody holds it: creates the entry, or takes
   * over a released one (returning the handoff left in it). Refused with the
   * holder's id while another table holds it, this node's previous incarnation
   * included (a restarted node waits for its old entries to expire). Rejects
   * when NATS does not answer; the caller retries.
   */
  acquire(key: string): Promise<AcquireResult> {
    if (this.closed) return Promise.reject(new Error('lease table is closed'));
    if (this.holds(key)) return Promise.resolve({ ok: true, handoff: undefined });
    let pending = this.acquiring.get(key);
    if (pending === undefined) {
      // Our own release of it goes first: it writes the handoff we may then take back.
      const released = this.releasing.get(key);
      pending = (released === undefined ? this.tryAcquire(key) : released.then(() => this.tryAcquire(key))).finally(() => this.acquiring.delete(key));
      this.acquiring.set(key, pending);
    }
    return pending;
  }

  /** Stops renewing `key` and writes a released entry carrying `handoff` (plain JSON, small), by revision. */
  release(key: string, handoff?: unknown): Promise<void> {
    const lease = this.leases.get(key);
    if (lease === undefined) return this.releasing.get(key) ?? Promise.resolve();
    this.leases.delete(key);
    lease.ending = 'released';
    const done = this.writeRelease(lease, handoff).finally(() => this.releasing.delete(key));
    this.releasing.set(key, done);
    return done;
  }

  private async writeRelease(lease: Lease, handoff: unknown): Promise<void> {
    // A renewal in flight moves the revision: release by the one it leaves.
    await lease.renewing;
    const value: LeaseValue = { owner: this.node, incarnation: this.incarnation, state: 'released' };
    try {
      if (handoff !== undefined) {
        const bytes = Buffer.from(JSON.stringify(handoff), 'utf8');
        if (bytes.length <= INLINE_HANDOFF_BYTES) value.handoff = handoff;
        else value.handoffParts = await this.writeParts(lease.kvKey, bytes);
      }
      await this.kv.update(lease.kvKey, JSON.stringify(value), lease.revision);
      this.stats.released++;
    } catch {
      this.stats.releaseFailures++;
    }
  }

  /** Writes a large handoff as parts before the release names them; undefined (dropped) past MAX_HANDOFF_PARTS. */
  private async writeParts(kvKey: string, bytes: Buffer): Promise<LeaseValue['handoffParts']> {
    const n = Math.ceil(bytes.length / HANDOFF_PART_BYTES);
    if (n > MAX_HANDOFF_PARTS) {
      this.stats.handoffsDropped++;
      return undefined;
    }
    const id = `${this.incarnation}-${++this.handoffSeq}`;
    const puts: Promise<number>[] = [];
    for (let i = 0; i < n; i++) puts.push(this.kv.put(`${kvKey}.${id}.${i}`, bytes.subarray(i * HANDOFF_PART_BYTES, (i + 1) * HANDOFF_PART_BYTES)));
    await Promise.all(puts);
    this.stats.handoffsInParts++;
    return { id, n };
  }

  /** The handoff of a released entry, read back from its parts when it has them. */
  private async handoffOf(kvKey: string, value: LeaseValue): Promise<unknown> {
    if (value.handoffParts === undefined) return value.handoff;
    const { id, n } = value.handoffParts;
    const keys = Array.from({ length: n }, (_, i) => `${kvKey}.${id}.${i}`);
    // The lease is ours already: a part that cannot be read costs the handoff, never the lease.
    // Parts are left to expire with the bucket's max_age, like the released entry.
    try {
      const parts = await Promise.all(keys.map((k) => this.kv.get(k)));
      // A part missing: expired before we read it (a new home slower than the entry's life).
      if (parts.some((p) => p === null || p.operation !== 'PUT')) throw new Error('handoff part missing');
      return JSON.parse(Buffer.concat(parts.map((p) => p!.value)).toString('utf8'));
    } catch {
      this.stats.handoffsDropped++;
      return undefined;
    }
  }

  /** Whether the lease of `key` is ours now (checked against its deadline, not only the timer). */
  holds(key: string): boolean {
    const lease = this.leases.get(key);
    if (lease === undefined) return false;
    if (this.now() < lease.sentAt + this.lifeMs) return true;
    // Past the deadline and the timer has not run yet: lose it now, outside the caller's stack.
    queueMicrotask(() => this.expireDue());
    return false;
  }

  held(): readonly string[] {
    const now = this.now();
    const out: string[] = [];
    for (const lease of this.leases.values()) if (now < lease.sentAt + this.lifeMs) out.push(lease.key);
    return out;
  }

  /** A lease lost (expired or found changed): the listener must stop serving it at once. Returns the unsubscribe. */
  onLost(listener: (key: string, reason: LostReason) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Stops renewing, without releasing or telling onLost: the entries expire by themselves. */
  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.renewTimer);
    clearTimeout(this.deadlineTimer);
    const renewing = [...this.leases.values()].map((l) => {
      l.ending = 'closed';
      return l.renewing;
    });
    this.leases.clear();
    await Promise.all(renewing);
    await Promise.allSettled([...this.acquiring.values(), ...this.releasing.values()]);
  }

  // --- acquiring ---

  private async tryAcquire(key: string): Promise<AcquireResult> {
    const kvKey = encodeKey(key);
    // An entry can vanish (expire) between our failed create and our read: a few rounds settle it.
    for (let round = 0; round < 3; round++) {
      const sentAt = this.now();
      try {
        const revision = await this.kv.create(kvKey, this.heldValue);
        return this.acquired(key, kvKey, revision, sentAt, undefined);
      } catch (err) {
        if (!isRevisionConflict(err)) throw err;
      }
      const entry = await this.kv.get(kvKey);
      if (entry === null || entry.operation !== 'PUT') continue;
      const value = this.parse(entry.json.bind(entry));
      // Held by this very table yet not in it: a create that timed out here but
      // landed, or a renewal that landed after we counted the lease lost. Nobody
      // serves it, so it is as good as released.
      const orphan = value?.owner === this.node && value.incarnation === this.incarnation && !this.leases.has(key);
      if (value === undefined || (value.state === 'held' && !orphan)) {
        this.stats.refused++;
        return { ok: false, holder: value?.owner ?? '(unreadable lease)' };
      }
      const takeoverAt = this.now();
      try {
        const revision = await this.kv.update(kvKey, this.heldValue, entry.revision);
        return this.acquired(key, kvKey, revision, takeoverAt, await this.handoffOf(kvKey, value));
      } catch (err) {
        if (!isRevisionConflict(err)) throw err;
        this.stats.conflicts++;
      }
    }
    const entry = await this.kv.get(kvKey);
    const value = entry?.operation === 'PUT' ? this.parse(entry.json.bind(entry)) : undefined;
    this.stats.refused++;
    return { ok: false, holder: value?.owner ?? '(contended)' };
  }

  private acquired(key: string, kvKey: string, revision: number, sentAt: number, handoff: unknown): AcquireResult {
    if (this.closed) {
      // Closed while we were asking: leave the entry to expire rather than hold what nobody renews.
      return { ok: false, holder: this.node };
    }
    this.leases.set(key, { key, kvKey, revision, sentAt, renewing: undefined, ending: undefined });
    this.stats.acquired++;
    this.armDeadline();
    return { ok: true, handoff };
  }

  private parse(json: () => unknown): LeaseValue | undefined {
    try {
      const parsed = leaseValueSchema.safeParse(json());
      return parsed.success ? parsed.data : undefined;
    } catch {
      return undefined;
    }
  }

  // --- renewing ---

  private scheduleRenewal(): void {
    // A fixed cadence: a slow renewal of one lease never delays the others' next one.
    this.renewTimer = setInterval(() => this.renewAll(), this.renewMs);
    this.renewTimer.unref();
  }

  private renewAll(): void {
    this.expireDue();
    // All at once: one round trip for the lot, however many leases are held.
    for (const lease of this.leases.values()) {
      if (lease.renewing === undefined) lease.renewing = this.renew(lease).finally(() => (lease.renewing = undefined));
    }
  }

  private async renew(lease: Lease): Promise<void> {
    const sentAt = this.now();
    let revision: number;
    try {
      revision = await this.kv.update(lease.kvKey, this.heldValue, lease.revision, this.renewMs);
    } catch (err) {
      this.stats.renewFailures++;
      if (isRevisionConflict(err)) await this.onConflict(lease);
      return;
    }
    this.stats.renewals++;
    // Past the deadline holds() already said no: never extend it after that.
    if (lease.ending === undefined && this.now() >= lease.sentAt + this.lifeMs) this.lose(lease, 'expired');
    lease.revision = revision;
    if (lease.ending === undefined) lease.sentAt = sentAt;
    else if (lease.ending === 'lost') {
      // Renewed after we gave it up: free it for the next home rather than keep it blocked until expiry.
      const freed: LeaseValue = { owner: this.node, incarnation: this.incarnation, state: 'released' };
      void this.kv.update(lease.kvKey, JSON.stringify(freed), revision).catch(() => undefined);
    }
  }

  /**
   * The entry is not at the revision we knew. If it is still ours, an earlier
   * renewal that timed out here did land: take its revision and keep the
   * deadline of the last one we saw succeed (earlier than that write, so safe).
   */
  private async onConflict(lease: Lease): Promise<void> {
    try {
      const entry = await this.kv.get(lease.kvKey);
      const value = entry?.operation === 'PUT' ? this.parse(entry.json.bind(entry)) : undefined;
      if (entry !== null && value?.owner === this.node && value.incarnation === this.incarnation && value.state === 'held') {
        lease.revision = entry.revision;
        return;
      }
    } catch {
      // Cannot tell: the deadline decides.
      return;
    }
    this.stats.conflicts++;
    if (lease.ending === undefined) this.lose(lease, 'conflict');
  }

  // --- losing ---

  private armDeadline(): void {
    if (this.deadlineTimer !== undefined || this.leases.size === 0 || this.closed) return;
    let first = Infinity;
    for (const lease of this.leases.values()) first = Math.min(first, lease.sentAt + this.lifeMs);
    this.deadlineTimer = setTimeout(
      () => {
        this.deadlineTimer = undefined;
        this.expireDue();
        this.armDeadline();
      },
      Math.max(0, first - this.now()),
    );
    this.deadlineTimer.unref();
  }

  private expireDue(): void {
    const now = this.now();
    for (const lease of [...this.leases.values()]) if (now >= lease.sentAt + this.lifeMs) this.lose(lease, 'expired');
  }

  private lose(lease: Lease, reason: LostReason): void {
    this.leases.delete(lease.key);
    lease.ending = 'lost';
    this.stats.lost++;
    for (const listener of [...this.listeners]) {
      try {
        listener(lease.key, reason);
      } catch (err) {
        this.onError(err);
      }
    }
  }
}
