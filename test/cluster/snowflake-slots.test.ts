// Snowflake slots over real NATS JetStream KV: every node of a cluster makes
// ids with a slot of its own, claimed again when lost.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type NatsConnection, connect } from '@nats-io/transport-node';
import { Kvm } from '@nats-io/kv';
import { SnowflakeSlots, type SnowflakeSlotsOptions } from '../../cluster/snowflake-slots.js';
import { NATS_URL, uniquePrefix } from '../support/cluster.js';
import { until } from '../support/until.js';

let nc: NatsConnection;
const opened: SnowflakeSlots[] = [];
const clusters: string[] = [];

beforeAll(async () => {
  nc = await connect({ servers: NATS_URL });
});

afterEach(async () => {
  await Promise.all(opened.splice(0).map((s) => s.close()));
  const kvm = new Kvm(nc);
  await Promise.all(clusters.splice(0).map(async (c) => (await kvm.open(`${c}-id-slots`)).destroy().catch(() => undefined)));
});

afterAll(async () => {
  await nc.close();
});

function newCluster(): string {
  const c = uniquePrefix('slots');
  clusters.push(c);
  return c;
}

async function claim(cluster: string, node: string, extra: Partial<SnowflakeSlotsOptions> = {}): Promise<{ slots: SnowflakeSlots; used: number[] }> {
  const used: number[] = [];
  const slots = await SnowflakeSlots.claim({ nats: nc, cluster, node, slots: 1024, ttlMs: 1_500, use: (s) => used.push(s), ...extra });
  opened.push(slots);
  return { slots, used };
}

describe('SnowflakeSlots', () => {
  it('gives every node a slot of its own, never slot 0, even when all start the search at the same one', async () => {
    const cluster = newCluster();
    const nodes = await Promise.all(Array.from({ length: 8 }, (_, i) => claim(cluster, `node-${i}`, { random: () => 0 })));
    const slots = nodes.map((n) => n.slots.stats.slot);
    expect(new Set(slots).size).toBe(8);
    expect(slots.every((s) => s >= 1 && s <= 8)).toBe(true);
    // Each was told its slot once.
    expect(nodes.map((n) => n.used)).toEqual(slots.map((s) => [s]));
  });

  it('refuses to start a node when every slot is held, saying so', async () => {
    const cluster = newCluster();
    await claim(cluster, 'a', { slots: 3 });
    await claim(cluster, 'b', { slots: 3 });
    await expect(claim(cluster, 'c', { slots: 3 })).rejects.toThrow(/all 2 snowflake slots .* are held/);
  });

  it('claims a slot again when its own was taken from it, and counts the loss', async () => {
    const cluster = newCluster();
    const { slots, used } = await claim(cluster, 'a', { random: () => 0 });
    expect(used).toEqual([1]);
    // Someone else's entry in our slot: the next renewal finds the revision moved.
    const kv = await new Kvm(nc).open(`${cluster}-id-slots`);
    await kv.put(Buffer.from('1').toString('base64url'), JSON.stringify({ owner: 'intruder', incarnation: 'x', state: 'held' }));
    await until(() => used.length === 2, 'the slot claimed again', 5_000);
    expect(used[1]).not.toBe(1);
    expect(slots.stats).toEqual({ slot: used[1], lost: 1 });
  });

  it("leaves a closed node's slot to expire before another node takes it", async () => {
    const cluster = newCluster();
    const first = await claim(cluster, 'a', { random: () => 0 });
    await first.slots.close();
    // Ids of the closed node may still be in flight to the database: its slot is not reused at once.
    const second = await claim(cluster, 'b', { random: () => 0 });
    expect(second.used).toEqual([2]);
  });
});
