// Membership over real NATS JetStream KV: nodes in one process, each with its
// own connection, in a bucket of its own per test.
import { afterEach, beforeAll, afterAll, describe, expect, it } from 'vitest';
import { type NatsConnection, connect } from '@nats-io/transport-node';
import { Kvm } from '@nats-io/kv';
import { Membership, type NodeInfo } from '../../cluster/membership.js';
import { NATS_URL, uniquePrefix } from '../support/cluster.js';
import { startTcpProxy } from '../support/tcp-proxy.js';
import { until } from '../support/until.js';

let nc: NatsConnection;
const opened: Membership[] = [];
const clusters: string[] = [];

beforeAll(async () => {
  nc = await connect({ servers: NATS_URL });
});

afterEach(async () => {
  await Promise.all(opened.splice(0).map((m) => m.close()));
  const kvm = new Kvm(nc);
  await Promise.all(clusters.splice(0).map(async (c) => (await kvm.open(`${c}-nodes`)).destroy().catch(() => undefined)));
});

afterAll(async () => {
  await nc.close();
});

function newCluster(): string {
  const c = uniquePrefix('members');
  clusters.push(c);
  return c;
}

async function join(cluster: string, id: string, ttlMs: number, clock?: () => number, nats = nc): Promise<Membership> {
  const m = await Membership.join({ nats, cluster, self: { id, url: `http://${id}` }, ttlMs, clock });
  opened.push(m);
  return m;
}

const ids = (live: readonly NodeInfo[]) => live.map((n) => n.id);

describe('Membership', () => {
  it('lets three nodes see each other, sorted by id, all placeable, with their urls', async () => {
    const cluster = newCluster();
    // A ttl that a loaded CI machine's event-loop stalls do not reach: this test is about the set, not the bound.
    const c = await join(cluster, '127.0.0.1:8083', 1_500);
    const changes: string[][] = [];
    c.onChange((live) => changes.push(ids(live)));
    const a = await join(cluster, '127.0.0.1:8081', 1_500);
    const b = await join(cluster, '127.0.0.1:8082', 1_500);
    const all = ['127.0.0.1:8081', '127.0.0.1:8082', '127.0.0.1:8083'];
    await until(() => [a, b, c].every((m) => ids(m.live()).join() === all.join()), 'all three see all three', 5_000);
    for (const m of [a, b, c]) {
      expect(m.placeable()).toEqual(all);
      expect(m.live().map((n) => [n.url, n.state])).toEqual(all.map((id) => [`http://${id}`, 'up']));
    }
    // c joined alone, then saw a and b arrive: its listener heard the set grow (no heartbeat with no change counts).
    expect(changes.at(-1)).toEqual(all);
    expect(c.stats.changes).toBeGreaterThanOrEqual(2);
    expect(c.stats.heartbeats).toBeGreaterThanOrEqual(1);
    expect(c.stats.heartbeatFailures).toBe(0);
  });

  it('drops a node that stops heartbeating (closed without leaving) within the ttl bound', async () => {
    const cluster = newCluster();
    const ttl = 600;
    const a = await join(cluster, 'node-a', ttl);
    const b = await join(cluster, 'node-b', ttl);
    await until(() => a.live().length === 2 && b.live().length === 2, 'both see both', 3_000);
    await a.close();
    const closedAt = performance.now();
    await until(() => ids(b.live()).join() === 'node-b', 'b sees a gone', 5_000);
    const elapsed = performance.now() - closedAt;
    // Expiry ttl after a's last heartbeat, seen at b's next scan (every ttl / 3), plus scheduling slack.
    expect(elapsed).toBeLessThan(ttl + ttl / 3 + 700);
    expect(b.placeable()).toEqual(['node-b']);
  });

  it('drops a node that leaves at the next scan, long before its entry would expire', async () => {
    const cluster = newCluster();
    const ttl = 3_000;
    const a = await join(cluster, 'node-a', ttl);
    const b = await join(cluster, 'node-b', ttl);
    await until(() => b.live().length === 2, 'b sees both', 5_000);
    const gone = new Promise<number>((resolve) => b.onChange((live) => ids(live).join() === 'node-b' && resolve(performance.now())));
    const leftAt = performance.now();
    await a.leave();
    // a heartbeated at most ttl / 3 before leaving, so expiry alone would take at least 2/3 ttl.
    expect((await gone) - leftAt).toBeLessThan(ttl / 3 + 800);
    const entry = await (await new Kvm(nc).open(`${cluster}-nodes`)).get(Buffer.from('node-a').toString('base64url'));
    expect(entry?.operation).toBe('DEL');
  });

  it('shows a draining node as live but not placeable, to itself at once and to others at their next scan', async () => {
    const cluster = newCluster();
    const a = await join(cluster, 'node-a', 1_500);
    const b = await join(cluster, 'node-b', 1_500);
    await until(() => b.placeable().length === 2 && a.placeable().length === 2, 'both placeable', 5_000);
    const seen: NodeInfo[][] = [];
    b.onChange((live) => seen.push([...live]));
    await a.drain();
    expect(a.live().find((n) => n.id === 'node-a')?.state).toBe('draining');
    expect(a.placeable()).toEqual(['node-b']);
    await until(() => b.placeable().join() === 'node-b', 'b sees a draining', 5_000);
    expect(ids(b.live())).toEqual(['node-a', 'node-b']);
    expect(seen.at(-1)?.map((n) => n.state)).toEqual(['draining', 'up']);
    // Draining is kept across heartbeats.
    const scans = b.stats.scans;
    await until(() => b.stats.scans >= scans + 3, 'three more scans', 5_000);
    expect(b.placeable()).toEqual(['node-b']);
  });

  it("drops an entry whose revision has not moved for ttl by the scanner's own clock, before the server expires it", async () => {
    const cluster = newCluster();
    const ttl = 3_000;
    let skew = 0;
    const a = await join(cluster, 'node-a', ttl);
    const b = await join(cluster, 'node-b', ttl, () => performance.now() + skew);
    await until(() => b.live().length === 2, 'b sees both', 5_000);
    await a.close();
    // b's clock runs ahead: a's entry, still in the bucket, has not moved for "ttl".
    skew = ttl + 1;
    await until(() => ids(b.live()).join() === 'node-b', 'b drops a by its clock', 3_000);
    const entry = await (await new Kvm(nc).open(`${cluster}-nodes`)).get(Buffer.from('node-a').toString('base64url'));
    expect(entry?.operation).toBe('PUT');
  });

  it('counts heartbeats and scans that fail while cut off from NATS, keeps its last view, and recovers', async () => {
    const cluster = newCluster();
    const url = new URL(NATS_URL);
    const proxy = await startTcpProxy({ host: url.hostname, port: Number(url.port || 4222) });
    const ncA = await connect({ servers: `127.0.0.1:${proxy.port}`, reconnectTimeWait: 50, maxReconnectAttempts: -1 });
    try {
      const a = await join(cluster, 'node-a', 600, undefined, ncA);
      const b = await join(cluster, 'node-b', 600);
      await until(() => a.live().length === 2 && b.live().length === 2, 'both see both', 3_000);
      await proxy.cut();
      await until(() => a.stats.heartbeatFailures >= 2 && a.stats.scanFailures >= 2, 'failures counted', 5_000);
      // Nothing new can be learnt: a's view stands; b, still connected, sees a gone.
      expect(ids(a.live())).toEqual(['node-a', 'node-b']);
      await until(() => ids(b.live()).join() === 'node-b', 'b drops a', 3_000);
      await proxy.restore();
      await until(() => ids(b.live()).length === 2, 'b sees a back', 5_000);
    } finally {
      await Promise.all(opened.splice(0).map((m) => m.close()));
      await ncA.close().catch(() => undefined);
      await proxy.close();
    }
  });

  it('reads the live set from a watch: between heartbeats a member sends nothing to NATS', async () => {
    const cluster = newCluster();
    const own = await connect({ servers: NATS_URL });
    try {
      const a = await join(cluster, 'node-a', 900, undefined, own);
      await join(cluster, 'node-b', 900);
      await join(cluster, 'node-c', 900);
      await until(() => a.live().length === 3, 'a sees all three', 3_000);
      const out0 = own.stats().outMsgs;
      const beats0 = a.stats.heartbeats + a.stats.heartbeatFailures;
      const scans0 = a.stats.scans;
      await until(() => a.stats.scans >= scans0 + 6, 'six scans', 5_000);
      const sent = own.stats().outMsgs - out0;
      const beats = a.stats.heartbeats + a.stats.heartbeatFailures - beats0;
      // One request per heartbeat; a listing and a read per node per scan would be 5 more messages a tick.
      // The slack is the watch's flow-control replies, if the server asks for any.
      expect(sent).toBeLessThanOrEqual(beats + 1 + 2);
      expect(ids(a.live())).toEqual(['node-a', 'node-b', 'node-c']);
    } finally {
      await Promise.all(opened.splice(0).map((m) => m.close()));
      await own.close();
    }
  });

  it('ages the entries it finds on joining by the server clock: a node dead before the join goes within its own ttl', async () => {
    const cluster = newCluster();
    const ttl = 6_000;
    const a = await join(cluster, 'node-a', ttl);
    await a.close();
    // a's entry stays in the bucket until the server expires it; b joins halfway.
    await new Promise((r) => setTimeout(r, ttl / 2));
    const b = await join(cluster, 'node-b', ttl);
    const joinedAt = performance.now();
    await until(() => ids(b.live()).join() === 'node-b', 'b drops a', ttl * 2);
    // a beat at most ttl / 3 before closing, so it is dead ttl after that: at most ttl / 2 after the join, seen at the next scan
    // (ttl / 3). Taken as new, it would stay a whole ttl after the join.
    expect(performance.now() - joinedAt).toBeLessThan(ttl / 2 + ttl / 3 + 700);
  });

  it('skips and counts entries that are not a node, and refuses a cluster name KV cannot hold', async () => {
    const cluster = newCluster();
    const a = await join(cluster, 'node-a', 600);
    const kv = await new Kvm(nc).open(`${cluster}-nodes`);
    await kv.put('garbage', '{"id":5}');
    await until(() => a.stats.malformed > 0, 'a malformed entry counted', 3_000);
    expect(ids(a.live())).toEqual(['node-a']);
    await expect(Membership.join({ nats: nc, cluster: 'bad.name', self: { id: 'x', url: '' } })).rejects.toThrow(RangeError);
  });
});
