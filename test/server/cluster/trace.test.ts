// One trace across three nodes, in the real OTLP receiver: a message posted on
// A, handled by its guild on B, delivered to sessions on A, B and C; every
// span names its node (service.instance.id). A guild handover is a span too.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rendezvousHome } from '../../../cluster/index.js';
import { uniquePrefix } from '../../support/cluster.js';
import { type ClusterNode, api, eventually, metric, startClusterNode } from '../../support/cluster-servers.js';
import { GatewayClient } from '../../support/gateway-client.js';
import { type OtlpReceiver, type ReceivedSpan, startOtlpReceiver } from '../../support/otlp-receiver.js';
import { type TestDatabase, createTestDatabase } from '../../support/postgres.js';

describe('cross-node trace', () => {
  let db: TestDatabase;
  let receiver: OtlpReceiver;
  const nodes: ClusterNode[] = [];
  const sessions: GatewayClient[] = [];
  let token = '';
  let guild = { id: '', channelId: '' };

  beforeAll(async () => {
    db = await createTestDatabase();
    receiver = await startOtlpReceiver();
    const cluster = uniquePrefix('trace');
    const env = { LOG_LEVEL: 'warn', OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_BSP_SCHEDULE_DELAY: '50', OTEL_TRACES_SAMPLER: 'always_on' };
    nodes.push(await startClusterNode({ id: 'a', cluster, databaseUrl: db.url, setupUsers: 1, env }));
    nodes.push(...(await Promise.all(['b', 'c'].map((id) => startClusterNode({ id, cluster, databaseUrl: db.url, env })))));
    token = nodes[0]!.world!.users[0]!.token;
    for (const n of nodes) await eventually(async () => ((await metric(n.url, 'guildhall_cluster_live_nodes')) === 3 ? true : undefined), `${n.id} sees 3 nodes`);
    // A guild homed on b.
    const first = { id: nodes[0]!.world!.guildId, channelId: nodes[0]!.world!.channelId };
    guild = first;
    for (let i = 0; i < 30 && rendezvousHome(guild.id, ['a', 'b', 'c']) !== 'b'; i++) {
      const made = await api(nodes[0]!.url, token, 'POST', '/guilds', { name: `t${i}` });
      const channels = await api(nodes[0]!.url, token, 'GET', `/guilds/${made.body.id}/channels`);
      guild = { id: made.body.id, channelId: channels.body[0].id };
    }
    expect(rendezvousHome(guild.id, ['a', 'b', 'c'])).toBe('b');
    for (const n of nodes) {
      const s = await GatewayClient.connect(n.url);
      sessions.push(s);
      s.identify(token);
      await s.waitFor((r) => r.some((p) => p.t === 'GUILD_CREATE' && p.d.id === guild.id) || undefined, 15_000);
    }
  }, 180_000);

  afterAll(async () => {
    for (const s of sessions) s.ws.close();
    await Promise.all(nodes.map((n) => n.kill()));
    await receiver?.close();
    await db?.drop();
  });

  const nodeOf = (s: ReceivedSpan) => s.resource['service.instance.id'];

  it('is one trace with spans from A, B and C, each naming its node', async () => {
    const posted = await api(nodes[0]!.url, token, 'POST', `/channels/${guild.channelId}/messages`, { content: 'traced across nodes' });
    expect(posted.status).toBe(200);
    for (const [i, s] of sessions.entries()) {
      await s.waitFor((r) => r.some((p) => p.t === 'MESSAGE_CREATE' && p.d.id === posted.body.id) || undefined).catch((err: unknown) => {
        throw new Error(`session on ${nodes[i]!.id}: ${String(err)}\n${nodes.map((n) => `${n.id}: ${n.stderr()} ${n.stdout()}`).join('\n')}`);
      });
    }
    const spans = await receiver.waitForSpans((all) => {
      const root = all.find((s) => s.kind === 2 && s.name.includes('messages') && nodeOf(s) === 'a');
      if (root === undefined) return false;
      const inTrace = all.filter((s) => s.traceId === root.traceId);
      return new Set(inTrace.map(nodeOf)).size === 3 && inTrace.filter((s) => s.name.includes('session')).length >= 3;
    }, 15_000);
    const root = spans.find((s) => s.kind === 2 && s.name.includes('messages') && nodeOf(s) === 'a')!;
    const trace = spans.filter((s) => s.traceId === root.traceId);
    expect(new Set(trace.map(nodeOf))).toEqual(new Set(['a', 'b', 'c']));
    // The guild's work on b, a session's on each node; every span's parent is in the trace (one waterfall).
    expect(trace.some((s) => nodeOf(s) === 'b' && s.name.includes('guild'))).toBe(true);
    for (const n of ['a', 'b', 'c']) expect(trace.some((s) => nodeOf(s) === n && s.name.includes('session'))).toBe(true);
    const ids = new Set(trace.map((s) => s.spanId));
    for (const s of trace) if (s !== root) expect(ids.has(s.parentSpanId)).toBe(true);
  }, 60_000);

  it('records a guild handover as a span on the node it leaves', async () => {
    // c stops cleanly: its guilds (if it has any running) hand over; make sure it runs one first.
    const c = nodes[2]!;
    let onC = '';
    for (let i = 0; i < 30 && onC === ''; i++) {
      const made = await api(nodes[0]!.url, token, 'POST', '/guilds', { name: `hc${i}` });
      if (rendezvousHome(made.body.id, ['a', 'b', 'c']) !== 'c') continue;
      const channels = await api(nodes[0]!.url, token, 'GET', `/guilds/${made.body.id}/channels`);
      expect((await api(nodes[0]!.url, token, 'POST', `/channels/${channels.body[0].id}/messages`, { content: 'wake' })).status).toBe(200);
      onC = made.body.id;
    }
    expect(onC).not.toBe('');
    sessions[2]!.ws.close();
    expect(await c.stop()).toBe(0);
    const spans = await receiver.waitForSpans((all) => all.some((s) => s.name === 'guild handover' && s.attributes['guildhall.guild.id'] === onC), 15_000);
    const handover = spans.find((s) => s.name === 'guild handover' && s.attributes['guildhall.guild.id'] === onC)!;
    expect(nodeOf(handover)).toBe('c');
    expect(handover.attributes['guildhall.handover.from']).toBe('c');
    expect(['a', 'b']).toContain(handover.attributes['guildhall.handover.to']);
  }, 60_000);
});
