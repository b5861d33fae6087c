// Debug sampling per guild: while a window is open every operation of the
// guild is traced (roots whatever the root sampler says, every fanout delivery
// kept); when it closes (the injected clock moves past it) the usual rules are back.
import { afterEach, describe, expect, it } from 'vitest';
import { ATTR_DEBUG_SAMPLED, ATTR_FANOUT_KEPT, ATTR_FANOUT_RATE, ATTR_FANOUT_SIZE, type StoredSpan } from '../../../tracing/index.js';
import { type DebugWorld, startDebugWorld } from './debug-world.js';

const worlds: DebugWorld[] = [];
afterEach(async () => {
  for (const w of worlds.splice(0)) await w.close();
});

async function world(env: Record<string, string> = {}, tracingEnv: NodeJS.ProcessEnv = {}): Promise<DebugWorld> {
  const w = await startDebugWorld(env, tracingEnv);
  worlds.push(w);
  return w;
}

const MINUTE = 60_000;

/** Posts a message and waits until every session has it, then flushes the viewer's feed. */
async function broadcast(w: DebugWorld, token: string, channelId: string, sessions: { waitForDispatch(e: string, n: number, t?: number): Promise<unknown> }[], n: number): Promise<void> {
  const res = await w.call('POST', `/api/v10/channels/${channelId}/messages`, { token, body: { content: `message ${n}` } });
  expect(res.status).toBe(200);
  await Promise.all(sessions.map((c) => c.waitForDispatch('MESSAGE_CREATE', n, 15_000)));
  await w.quiesce();
}

/** Lets the IDENTIFY traces of fresh sessions end and reach the store, so they are not counted as new. */
async function settle(w: DebugWorld): Promise<void> {
  await w.quiesce();
}

const fanoutOf = (traces: StoredSpan[][]) => traces.flat().find((s) => s.name === 'fanout session' && s.attributes['guildhall.event'] === 'MESSAGE_CREATE');

describe('debug sampling per guild', () => {
  it('keeps all 200 deliveries of a broadcast while the window is open, and about K after it closes', async () => {
    const w = await world({ GUILDHALL_FANOUT_K: '10' });
    const alice = await w.user('alice');
    const g = await w.guild(alice.id, []);
    const sessions = await w.sessions(alice.token, 200);
    await settle(w);

    const on = await w.call('POST', `/debug/api/guilds/${g.id}/trace`, { body: { minutes: 10 } });
    expect(on.status).toBe(200);
    const window = (await on.json()) as { guild_id: string; until: string; remaining_seconds: number };
    expect(window.guild_id).toBe(g.id);
    expect(window.remaining_seconds).toBe(600);

    let before = w.traceIds();
    await broadcast(w, alice.token, g.channelId, sessions, 1);
    let fresh = w.freshSpans(before);
    expect(fresh).toHaveLength(1);
    let fanout = fanoutOf(fresh)!;
    expect(fanout.attributes[ATTR_FANOUT_SIZE]).toBe(200);
    expect(fanout.attributes[ATTR_FANOUT_RATE]).toBe(1);
    expect(fanout.attributes[ATTR_FANOUT_KEPT]).toBe(200);
    const deliveries = fresh[0]!.filter((s) => s.parentSpanId === fanout.spanId);
    expect(deliveries).toHaveLength(200);
    expect(deliveries.every((d) => d.name === 'process session' && d.attributes['guildhall.fanout.adjusted_count'] === 1)).toBe(true);
    // The REST root carries the mark of a debug window.
    expect(fresh[0]!.find((s) => s.parentSpanId === undefined)!.attributes[ATTR_DEBUG_SAMPLED]).toBe(true);

    // Ten minutes and a second later the window has closed by itself.
    w.advance(10 * MINUTE + 1_000);
    expect(((await (await w.call('GET', '/debug/api/debug-sampling')).json()) as { windows: unknown[] }).windows).toEqual([]);
    before = w.traceIds();
    await broadcast(w, alice.token, g.channelId, sessions, 2);
    fresh = w.freshSpans(before);
    expect(fresh).toHaveLength(1);
    fanout = fanoutOf(fresh)!;
    expect(fanout.attributes[ATTR_FANOUT_RATE]).toBeCloseTo(10 / 200);
    // Binomial-like around K = 10; 40 is far out in the tail.
    const kept = fanout.attributes[ATTR_FANOUT_KEPT] as number;
    expect(kept).toBeGreaterThanOrEqual(1);
    expect(kept).toBeLessThanOrEqual(40);
    expect(fresh[0]!.filter((s) => s.parentSpanId === fanout.spanId)).toHaveLength(kept);
  }, 60_000);

  it('traces requests and gateway ops of the guild under OTEL_TRACES_SAMPLER=always_off, only while the window is open', async () => {
    const w = await world({}, { OTEL_TRACES_SAMPLER: 'always_off' });
    const alice = await w.user('alice');
    const bob = await w.user('bob');
    const g = await w.guild(alice.id, [bob.id]);
    const sessions = await w.sessions(alice.token, 3);
    await settle(w);

    // Not sampled at the root: nothing is recorded.
    let before = w.traceIds();
    await broadcast(w, alice.token, g.channelId, sessions, 1);
    expect(w.freshSpans(before)).toEqual([]);

    expect((await w.call('POST', `/debug/api/guilds/${g.id}/trace`, { body: { minutes: 5 } })).status).toBe(200);
    before = w.traceIds();
    await broadcast(w, alice.token, g.channelId, sessions, 2);
    const traced = w.freshSpans(before);
    expect(traced).toHaveLength(1);
    const names = traced[0]!.map((s) => s.name);
    expect(names).toContain('POST /api/v10/channels/:channel_id/messages');
    expect(names).toContain('process guild');
    // Children of the forced root are kept too, though the root sampler is always_off.
    expect(names.filter((n) => n === 'process session')).toHaveLength(3);
    expect(traced[0]!.filter((s) => s.name === 'process session' && s.events.some((e) => e.name === 'gateway.send'))).toHaveLength(3);

    // A gateway IDENTIFY (untraced at ingress) connects to the guild: that connect is a root of its own.
    before = w.traceIds();
    await w.sessions(bob.token, 1);
    await settle(w);
    const connects = w.freshSpans(before).flat().filter((s) => s.name === 'process guild' && s.attributes['guildhall.message.kind'] === 'connect');
    expect(connects).toHaveLength(1);
    expect(connects[0]!.parentSpanId).toBeUndefined();
    expect(connects[0]!.attributes[ATTR_DEBUG_SAMPLED]).toBe(true);

    w.advance(5 * MINUTE);
    before = w.traceIds();
    await broadcast(w, alice.token, g.channelId, sessions, 3);
    expect(w.freshSpans(before)).toEqual([]);
  }, 60_000);

  it('lists, shows and ends windows early; validates minutes and the guild', async () => {
    const w = await world();
    const alice = await w.user('alice');
    const g = await w.guild(alice.id, []);
    const path = `/debug/api/guilds/${g.id}/trace`;

    for (const minutes of [0, 61, 1.5, '10']) {
      const res = await w.call('POST', path, { body: { minutes } });
      expect(res.status).toBe(400);
      expect(((await res.json()) as { code: number }).code).toBe(50035);
    }
    const noBody = await w.call('POST', path);
    expect(noBody.status).toBe(400);
    expect(((await noBody.json()) as { code: number }).code).toBe(50035);
    const unknown = await w.call('POST', '/debug/api/guilds/123456789012345678/trace', { body: { minutes: 1 } });
    expect(unknown.status).toBe(404);
    expect(((await unknown.json()) as { code: number }).code).toBe(10004);
    const notSnowflake = await w.call('POST', '/debug/api/guilds/abc/trace', { body: { minutes: 1 } });
    expect(((await notSnowflake.json()) as { code: number }).code).toBe(50035);

    expect((await w.call('GET', path)).status).toBe(404);
    expect((await w.call('POST', path, { body: { minutes: 60 } })).status).toBe(200);
    const shown = (await (await w.call('GET', path)).json()) as { guild_id: string; remaining_seconds: number };
    expect(shown).toMatchObject({ guild_id: g.id, remaining_seconds: 3600 });
    w.advance(30 * MINUTE);
    const list = (await (await w.call('GET', '/debug/api/debug-sampling')).json()) as { windows: { guild_id: string; remaining_seconds: number }[] };
    expect(list.windows).toEqual([expect.objectContaining({ guild_id: g.id, remaining_seconds: 1800 })]);

    const ended = await w.call('DELETE', path);
    expect(ended.status).toBe(204);
    const again = await w.call('DELETE', path);
    expect(again.status).toBe(404);
    expect(((await again.json()) as { code: number }).code).toBe(0);
    expect(((await (await w.call('GET', '/debug/api/debug-sampling')).json()) as { windows: unknown[] }).windows).toEqual([]);
  });

  it('is guarded by X-Admin-Secret when one is configured, and refused in production without one', async () => {
    const secret = 'admin-secret-0123456789';
    const guarded = await world({ GUILDHALL_ADMIN_SECRET: secret });
    const alice = await guarded.user('alice');
    const g = await guarded.guild(alice.id, []);
    const path = `/debug/api/guilds/${g.id}/trace`;
    for (const headers of [{}, { 'x-admin-secret': 'wrong-secret-0123456789' }] as Record<string, string>[]) {
      for (const [method, p] of [['POST', path], ['GET', path], ['DELETE', path], ['GET', '/debug/api/debug-sampling']] as const) {
        const res = await guarded.call(method, p, { body: method === 'POST' ? { minutes: 1 } : undefined, headers });
        expect(res.status).toBe(401);
        expect(((await res.json()) as { code: number }).code).toBe(40001);
      }
    }
    expect((await guarded.call('POST', path, { body: { minutes: 1 }, headers: { 'x-admin-secret': secret } })).status).toBe(200);

    const production = await world({ NODE_ENV: 'production' });
    const bob = await production.user('bob');
    const h = await production.guild(bob.id, []);
    const refused = await production.call('POST', `/debug/api/guilds/${h.id}/trace`, { body: { minutes: 1 } });
    expect(refused.status).toBe(403);
    expect(((await refused.json()) as { code: number }).code).toBe(50001);
  });
});
