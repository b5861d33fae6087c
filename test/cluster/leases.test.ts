// Leases over real NATS JetStream KV: tables in one process, each on its own
// connection, one through a TCP proxy the test can cut (a partition).
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { setTimeout as sleep } from 'node:timers/promises';
import { type NatsConnection, connect } from '@nats-io/transport-node';
import { Kvm } from '@nats-io/kv';
import { LeaseTable, type LeaseOptions, type LostReason } from '../../cluster/leases.js';
import { NATS_URL, uniquePrefix } from '../support/cluster.js';
import { startTcpProxy } from '../support/tcp-proxy.js';
import { until } from '../support/until.js';

// Short enough to keep the file quick, long enough for a loaded two-core machine.
const TIMING = { ttlMs: 1_500, renewMs: 500, marginMs: 250 };

let nc: NatsConnection;
const tables: LeaseTable[] = [];
const clusters: string[] = [];

beforeAll(async () => {
  nc = await connect({ servers: NATS_URL });
});

afterEach(async () => {
  await Promise.all(tables.splice(0).map((t) => t.close()));
  const kvm = new Kvm(nc);
  await Promise.all(clusters.splice(0).map(async (c) => (await kvm.open(`${c}-leases`)).destroy().catch(() => undefined)));
});

afterAll(async () => {
  await nc.close();
});

function newCluster(): string {
  const c = uniquePrefix('leases');
  clusters.push(c);
  return c;
}

async function open(cluster: string, node: string, extra: Partial<LeaseOptions> = {}): Promise<LeaseTable> {
  const t = await LeaseTable.open({ nats: nc, cluster, node, ...TIMING, ...extra });
  tables.push(t);
  return t;
}

async function entryOf(cluster: string, key: string) {
  return (await new Kvm(nc).open(`${cluster}-leases`)).get(Buffer.from(key).toString('base64url'));
}

describe('LeaseTable', () => {
  it('gives each key to exactly one of two tables racing for it, and refuses the other with the holder', async () => {
    const cluster = newCluster();
    const a = await open(cluster, 'node-a');
    const b = await open(cluster, 'node-b');
    const keys = Array.from({ length: 20 }, (_, i) => `guild:${i}`);
    const results = await Promise.all(keys.map((k) => Promise.all([a.acquire(k), b.acquire(k)])));
    results.forEach(([ra, rb], i) => {
      expect([ra.ok, rb.ok].filter(Boolean)).toHaveLength(1);
      const loser = ra.ok ? rb : ra;
      expect(loser).toEqual({ ok: false, holder: ra.ok ? 'node-a' : 'node-b' });
      expect(a.holds(keys[i] as string)).toBe(ra.ok);
      expect(b.holds(keys[i] as string)).toBe(rb.ok);
    });
    expect([...a.held(), ...b.held()].sort()).toEqual([...keys].sort());
    const entry = await entryOf(cluster, 'guild:0');
    expect(entry?.json()).toEqual({ owner: a.holds('guild:0') ? 'node-a' : 'node-b', incarnation: expect.any(String), state: 'held' });
  });

  it('keeps a lease past its ttl by renewing (all held leases each tick) while the other table is refused', async () => {
    const cluster = newCluster();
    const a = await open(cluster, 'node-a');
    const b = await open(cluster, 'node-b');
    const keys = Array.from({ length: 50 }, (_, i) => `g${i}`);
    for (const r of await Promise.all(keys.map((k) => a.acquire(k)))) expect(r.ok).toBe(true);
    const until3Ttl = performance.now() + 3 * TIMING.ttlMs;
    while (performance.now() < until3Ttl) {
      expect(await b.acquire('g7')).toEqual({ ok: false, holder: 'node-a' });
      await sleep(100);
    }
    expect(a.held()).toHaveLength(50);
    expect(a.stats.lost).toBe(0);
    // About 9 ticks of 50: every lease renewed on (nearly) every tick.
    expect(a.stats.renewals).toBeGreaterThanOrEqual(50 * 6);
    expect(a.stats.renewFailures).toBe(0);
  });

  it('hands over on release: the next table acquires at once and gets the handoff', async () => {
    const cluster = newCluster();
    const a = await open(cluster, 'node-a');
    const b = await open(cluster, 'node-b');
    expect(await a.acquire('guild:1')).toEqual({ ok: true, handoff: undefined });
    const handoff = { subscribers: [['session-1', 'node-a']], presences: 2 };
    await a.release('guild:1', handoff);
    expect(a.holds('guild:1')).toBe(false);
    expect(await b.acquire('guild:1')).toEqual({ ok: true, handoff });
    expect(await a.acquire('guild:1')).toEqual({ ok: false, holder: 'node-b' });
    expect(a.stats).toMatchObject({ acquired: 1, released: 1, lost: 0, refused: 1 });
    expect(b.stats).toMatchObject({ acquired: 1 });
    // The handoff was for one taker: b's renewals write it away.
    await until(() => b.stats.renewals > 0, 'b renews', 3_000);
    expect((await entryOf(cluster, 'guild:1'))?.json()).not.toHaveProperty('handoff');
  });

  it('hands over a handoff larger than one NATS message in parts, read back whole by the next table', async () => {
    const cluster = newCluster();
    const a = await open(cluster, 'node-a');
    const b = await open(cluster, 'node-b');
    expect((await a.acquire('guild:big')).ok).toBe(true);
    // About 2.4 MB: three times NATS's default max_payload; non-ASCII so that parts split inside characters.
    const subscribers = Array.from({ length: 20_000 }, (_, i) => ({ sessionId: `${i.toString(16).padStart(32, '0')}.node-a`, userId: `${i}`, note: 'ø✓' }));
    await a.release('guild:big', { subscribers });
    expect(a.stats).toMatchObject({ released: 1, releaseFailures: 0, handoffsInParts: 1, handoffsDropped: 0 });
    // The released entry names the parts instead of holding them.
    expect((await entryOf(cluster, 'guild:big'))?.json()).toMatchObject({ state: 'released', handoffParts: { id: expect.any(String), n: expect.any(Number) } });
    const taken = await b.acquire('guild:big');
    expect(taken.ok).toBe(true);
    expect(taken.ok && taken.handoff).toEqual({ subscribers });
    expect(b.stats.handoffsDropped).toBe(0);
  });

  it('drops a handoff past the part limit but still releases the lease', async () => {
    const cluster = newCluster();
    const a = await open(cluster, 'node-a');
    const b = await open(cluster, 'node-b');
    expect((await a.acquire('guild:huge')).ok).toBe(true);
    await a.release('guild:huge', { blob: 'x'.repeat(17 * 1024 * 1024) });
    expect(a.stats).toMatchObject({ released: 1, handoffsInParts: 0, handoffsDropped: 1 });
    expect(await b.acquire('guild:huge')).toEqual({ ok: true, handoff: undefined });
  });

  it('lets another table acquire a lease nobody renews only once the entry has expired', async () => {
    const cluster = newCluster();
    const a = await open(cluster, 'node-a');
    const b = await open(cluster, 'node-b');
    expect((await a.acquire('guild:2')).ok).toBe(true);
    await until(() => a.stats.renewals >= 1, 'a renews once', 3_000);
    await a.close();
    // The server's timestamp of a's last write: the entry expires ttl after it (same machine, same wall clock).
    const last = await entryOf(cluster, 'guild:2');
    const expiresAt = (last?.created.getTime() ?? 0) + TIMING.ttlMs;
    let refusals = 0;
    let acquiredAt = 0;
    while (acquiredAt === 0 && Date.now() < expiresAt + 3_000) {
      const r = await b.acquire('guild:2');
      if (r.ok) acquiredAt = Date.now();
      else {
        expect(r.holder).toBe('node-a');
        refusals++;
        await sleep(20);
      }
    }
    expect(refusals).toBeGreaterThan(0);
    expect(acquiredAt).toBeGreaterThanOrEqual(expiresAt - 2);
    // The server removes expired entries promptly: failover is bounded by ttl plus this.
    expect(acquiredAt - expiresAt).toBeLessThan(1_000);
    if (process.env.LEASE_TIMES) console.info(`expiry: acquired ${acquiredAt - expiresAt} ms after the entry's expiry time, ${refusals} refusals before`);
  });

  it('loses a lease whose entry another writer changed (revision check), at the next renewal', async () => {
    const cluster = newCluster();
    const a = await open(cluster, 'node-a');
    const lost: [string, LostReason][] = [];
    a.onLost((key, reason) => lost.push([key, reason]));
    expect((await a.acquire('guild:3')).ok).toBe(true);
    const kv = await new Kvm(nc).open(`${cluster}-leases`);
    await kv.put(Buffer.from('guild:3').toString('base64url'), JSON.stringify({ owner: 'intruder', incarnation: 'x', state: 'held' }));
    await until(() => lost.length > 0, 'a loses guild:3', 3_000);
    expect(lost).toEqual([['guild:3', 'conflict']]);
    expect(a.holds('guild:3')).toBe(false);
    expect(a.stats.conflicts).toBe(1);
  });

  it('counts a lease lost at its deadline by its own clock, in holds() at once and never renewed back', async () => {
    const cluster = newCluster();
    let skew = 0;
    const a = await open(cluster, 'node-a', { clock: () => performance.now() + skew });
    const lost: string[] = [];
    a.onLost((key) => lost.push(key));
    expect((await a.acquire('guild:4')).ok).toBe(true);
    skew = a.lifeMs;
    expect(a.holds('guild:4')).toBe(false);
    expect(a.held()).toEqual([]);
    await until(() => lost.length === 1, 'onLost', 1_000);
    await sleep(2 * TIMING.renewMs);
    expect(a.holds('guild:4')).toBe(false);
    expect(lost).toEqual(['guild:4']);
  });

  it('takes back at once a lease it counted lost while its entry still names this table (nobody else can hold it)', async () => {
    const cluster = newCluster();
    let skew = 0;
    const a = await open(cluster, 'node-a', { clock: () => performance.now() + skew });
    const b = await open(cluster, 'node-b');
    expect((await a.acquire('guild:6')).ok).toBe(true);
    skew = a.lifeMs;
    expect(a.holds('guild:6')).toBe(false);
    // The entry still says a's, until it expires: b is refused, a (same incarnation) may take it back.
    expect(await b.acquire('guild:6')).toEqual({ ok: false, holder: 'node-a' });
    expect(await a.acquire('guild:6')).toEqual({ ok: true, handoff: undefined });
    expect(a.holds('guild:6')).toBe(true);
  });

  it('lets its own acquire wait for its release in flight, and take the handoff back', async () => {
    const cluster = newCluster();
    const a = await open(cluster, 'node-a');
    expect((await a.acquire('guild:7')).ok).toBe(true);
    const releasing = a.release('guild:7', { n: 7 });
    expect(await a.acquire('guild:7')).toEqual({ ok: true, handoff: { n: 7 } });
    await releasing;
    expect(a.stats).toMatchObject({ released: 1, releaseFailures: 0, acquired: 2 });
  });

  it('runs by the bucket expiry when an existing bucket has a shorter one than configured', async () => {
    const cluster = newCluster();
    await open(cluster, 'node-a');
    const b = await open(cluster, 'node-b', { ttlMs: 3_000 });
    expect(b.ttlMs).toBe(TIMING.ttlMs);
    expect(b.lifeMs).toBe(TIMING.ttlMs - TIMING.marginMs);
    await expect(open(cluster, 'node-c', { ttlMs: 3_000, renewMs: 1_400 })).rejects.toThrow(RangeError);
  });

  it('partitioned from NATS: stops holding before another table can acquire, and never holds again after', async () => {
    const cluster = newCluster();
    const url = new URL(NATS_URL);
    const proxy = await startTcpProxy({ host: url.hostname, port: Number(url.port || 4222) });
    const ncA = await connect({ servers: `127.0.0.1:${proxy.port}`, reconnectTimeWait: 50, maxReconnectAttempts: -1 });
    try {
      const a = await open(cluster, 'node-a', { nats: ncA });
      const b = await open(cluster, 'node-b');
      expect((await a.acquire('guild:5')).ok).toBe(true);
      await until(() => a.stats.renewals >= 2, 'a renews twice', 3_000);

      let lostAt = 0;
      a.onLost((key) => key === 'guild:5' && (lostAt = performance.now()));
      let lastHeldAt = 0;
      const sampler = setInterval(() => a.holds('guild:5') && (lastHeldAt = performance.now()), 1);
      await proxy.cut();
      const cutAt = performance.now();

      let acquiredAt = 0;
      while (acquiredAt === 0 && performance.now() - cutAt < 6_000) {
        const r = await b.acquire('guild:5');
        if (r.ok) acquiredAt = performance.now();
        else await sleep(10);
      }
      expect(acquiredAt).toBeGreaterThan(0);
      expect(lostAt).toBeGreaterThan(0);
      expect(lostAt).toBeLessThan(acquiredAt);
      expect(lastHeldAt).toBeLessThan(lostAt + 1);
      // a stopped within its life after the last renewal sent before the cut.
      expect(lostAt - cutAt).toBeLessThan(a.lifeMs + 400);

      // Back on the network, a's stale renewals are refused by revision: it never holds the lease again.
      await proxy.restore();
      await until(() => proxy.accepted > 1, 'a reconnects', 5_000);
      await sleep(3 * TIMING.renewMs);
      clearInterval(sampler);
      expect(lastHeldAt).toBeLessThan(acquiredAt);
      expect(a.holds('guild:5')).toBe(false);
      expect(b.holds('guild:5')).toBe(true);
      expect(await a.acquire('guild:5')).toEqual({ ok: false, holder: 'node-b' });
      expect((await entryOf(cluster, 'guild:5'))?.json()).toMatchObject({ owner: 'node-b', state: 'held' });
      if (process.env.LEASE_TIMES) console.info(`partition: lost ${(lostAt - cutAt).toFixed(0)} ms after the cut, acquired elsewhere ${(acquiredAt - lostAt).toFixed(0)} ms after that`);
    } finally {
      await ncA.close().catch(() => undefined);
      await proxy.close();
    }
  });
});
