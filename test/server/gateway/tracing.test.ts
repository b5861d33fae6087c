// One trace follows a chat message from the REST request through the guild
// actor to the sessions it reaches, with fanout sampling keeping about K of them.
import { afterEach, describe, expect, it } from 'vitest';
import type { StoredSpan } from '../../../tracing/index.js';
import { ATTR_FANOUT_SIZE, ATTR_MAILBOX_WAIT_MS } from '../../../tracing/index.js';
import { GatewayClient } from '../../support/gateway-client.js';
import { startTestServer, type TestServer } from '../../support/world.js';

const servers: TestServer[] = [];
const clients: GatewayClient[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.ws.terminate();
  for (const s of servers.splice(0)) await s.close();
});

async function flushTraces(t: TestServer): Promise<void> {
  await t.server.ctx.tracing.provider?.forceFlush();
}

const children = (spans: StoredSpan[], parent: StoredSpan) => spans.filter((s) => s.parentSpanId === parent.spanId);

describe('tracing through the server', () => {
  it('a message broadcast to 200 sessions is one trace with about K session spans under its fanout span, and no other traces', async () => {
    // 200 sessions of one user at once: far past the identify limit meant for real clients.
    const t = await startTestServer({ GUILDHALL_MAX_CONCURRENCY: '1000' });
    servers.push(t);
    const alice = await t.user('alice');
    const g = await t.guild(alice.id, []);
    const N = 200;
    const sessions = await Promise.all(
      Array.from({ length: N }, async () => {
        const c = await GatewayClient.connect(t.url);
        clients.push(c);
        c.identify(alice.token);
        await c.waitForDispatch('GUILD_CREATE', 1, 15_000);
        return c;
      }),
    );
    await flushTraces(t);
    const before = new Set(t.server.traceStore.list({ limit: 10_000 }).map((s) => s.traceId));

    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const res = await t.rest(alice.token, 'POST', `/channels/${g.channelId}/messages`, { content: 'to everyone' }, { traceparent: `00-${traceId}-00f067aa0ba902b7-01` });
    expect(res.status).toBe(200);
    // A delivery's span ends when its handler returns, before the frame leaves: all have ended by now.
    await Promise.all(sessions.map((c) => c.waitForDispatch('MESSAGE_CREATE', 1, 15_000)));
    await flushTraces(t);

    const fresh = t.server.traceStore.list({ limit: 10_000 }).filter((s) => !before.has(s.traceId));
    expect(fresh.map((s) => s.traceId)).toEqual([traceId]);
    const spans = t.server.traceStore.get(traceId)!;
    const ingress = spans.find((s) => s.name.startsWith('POST'))!;
    expect(ingress.parentSpanId).toBe('00f067aa0ba902b7');
    const guildSpan = spans.find((s) => s.name === 'process guild')!;
    expect(guildSpan.parentSpanId).toBe(ingress.spanId);
    const fanout = spans.find((s) => s.name === 'fanout session')!;
    expect(fanout.parentSpanId).toBe(guildSpan.spanId);
    expect(fanout.attributes[ATTR_FANOUT_SIZE]).toBe(N);
    const deliveries = children(spans, fanout);
    expect(deliveries.every((d) => d.name === 'process session')).toBe(true);
    // Binomial(200, 10/200): mean 10, sd ~3.1; this bound fails about once in ten million runs.
    expect(deliveries.length).toBeGreaterThanOrEqual(1);
    expect(deliveries.length).toBeLessThanOrEqual(28);
    for (const d of deliveries) {
      expect(d.attributes[ATTR_FANOUT_SIZE]).toBe(N);
      // The frame going to the socket is an event on the delivery span.
      expect(children(spans, d)).toEqual([]);
      expect(d.events.map((e) => e.name)).toContain('gateway.send');
      expect(d.events.find((e) => e.name === 'gateway.send')!.attributes['gateway.event']).toBe('MESSAGE_CREATE');
    }
  });

  it('an IDENTIFY trace shows each guild connect, with its mailbox wait', async () => {
    const t = await startTestServer();
    servers.push(t);
    const alice = await t.user('alice');
    const guilds = [await t.guild(alice.id, [], 'a'), await t.guild(alice.id, [], 'b')];
    const c = await GatewayClient.connect(t.url);
    clients.push(c);
    c.identify(alice.token);
    await c.waitForDispatch('GUILD_CREATE', 2);
    await flushTraces(t);
    const summary = t.server.traceStore.list({ limit: 100 }).find((s) => s.rootName === 'gateway IDENTIFY')!;
    const spans = t.server.traceStore.get(summary.traceId)!;
    const session = spans.find((s) => s.name === 'process session')!;
    const connects = spans.filter((s) => s.name === 'process guild' && s.parentSpanId === session.spanId);
    expect(connects).toHaveLength(guilds.length);
    for (const span of connects) {
      expect(span.attributes['guildhall.message.kind']).toBe('connect');
      expect(typeof span.attributes[ATTR_MAILBOX_WAIT_MS]).toBe('number');
    }
  });
});
