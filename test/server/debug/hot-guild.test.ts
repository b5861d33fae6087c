// client-sim's hot-guild scenario against a real server at 1 % root
// sampling, as an operator would run it:
// - the actor top (/debug/api/actors) puts the hot guild first among guilds
//   within seconds, and keeps it among the five busiest actors of any kind
//   (its sessions work on every post too; busy time is wall time, so on a
//   loaded machine one session's handler stretched by preemption can lead for
//   a second);
// - tail capture still shows the hot guild's slow deliveries, in the built-in
//   viewer and in a real OTLP/gRPC receiver.
//
// Slowness is made, not hoped for. A "stall" session joins the hot guild
// half-way through the connects (a real actor speaking the guild's session
// protocol, like a session whose handling is slow): every MESSAGE_CREATE it
// is handed holds the one thread for STALL_MS, so the sessions that joined
// after it (later in the guild's fanout order) wait at least that long in
// their mailboxes. And a post the test puts in the hot guild's mailbox while
// it holds the thread waits past the threshold there: a guild tail root.
import { afterEach, describe, expect, it } from 'vitest';
import type { Behaviour } from '../../../actors/index.js';
import { resolveOptions } from '../../../client-sim/cli.js';
import { runSimulation } from '../../../client-sim/run.js';
import type { GuildProtocol } from '../../../server/guild/guild-protocol.js';
import type { SessionProtocol } from '../../../server/gateway/session-protocol.js';
import type { StoredSpan } from '../../../tracing/index.js';
import { type OtlpReceiver, startOtlpReceiver } from '../../support/otlp-receiver.js';
import { type TestServer, startTestServer } from '../../support/server.js';

const STALL_MS = 40;
const THRESHOLD_MS = 20;
const ONE_PERCENT = { OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: '0.01' };

const cleanups: Array<() => Promise<unknown> | unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function hold(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    // Holding the thread is the point: this is what a slow handler does to everyone else.
  }
}

/** The hot guild: client-sim names its guilds `sim <tag> <index>`, and the hot one is index 0. */
async function hotGuild(t: TestServer): Promise<{ id: string; ownerId: string; channelId: string }> {
  for (const row of t.server.ctx.system.loads()) {
    if (row.address.kind !== 'guild') continue;
    const id = row.address.id.slice('guild:'.length);
    const guild = await t.server.ctx.store.getGuild(id);
    if (guild !== undefined && / 0$/.test(guild.name)) {
      const [general] = await t.server.ctx.store.listChannels(id);
      return { id, ownerId: guild.owner_id, channelId: general!.id };
    }
  }
  throw new Error('no hot guild running');
}

/** Joins a stall session to the guild: it holds the thread on every MESSAGE_CREATE it is handed. */
async function joinStall(t: TestServer, guild: { id: string; ownerId: string }): Promise<void> {
  const stall: Behaviour<null, SessionProtocol> = {
    kind: 'session',
    init: () => null,
    handleCast: (msg) => {
      if (msg.type === 'dispatch' && msg.event.event === 'MESSAGE_CREATE') hold(STALL_MS);
    },
  };
  const { system } = t.server.ctx;
  const ref = system.spawn(stall, { key: 'session:stall' });
  const reply = await system
    .whereis<GuildProtocol>(`guild:${guild.id}`)!
    .call({ type: 'connect', sessionId: 'stall', session: ref, userId: guild.ownerId, intents: (1 << 9) | (1 << 15), largeThreshold: 50, presence: undefined });
  expect(reply.ok).toBe(true);
}

describe('hot-guild at 1 % root sampling', () => {
  it('the actor top shows the hot guild first within seconds', async () => {
    const t = await startTestServer({}, { tracingEnv: ONE_PERCENT, rateLimitPerSecond: 100_000 });
    cleanups.push(() => t.close());
    type Row = { kind: string; id: string; name?: string; traces?: string };
    const tops: { at: number; first: Row | undefined; five: string[] }[] = [];
    let loadStart = 0;
    let hot: string | undefined;
    let poll: NodeJS.Timeout | undefined;
    cleanups.push(() => clearInterval(poll));

    const options = resolveOptions('hot-guild', { url: t.url, sessions: 150, guilds: 3, rate: 60, duration: 6, progress: 'off', timeout: 60 });
    const report = await runSimulation(options, {
      env: {},
      hooks: {
        onPhase: async (phase) => {
          if (phase !== 'ready') return;
          hot = (await hotGuild(t)).id;
          loadStart = Date.now();
          const top = (query: string) => fetch(`${t.url}/debug/api/actors?${query}`).then((res) => res.json() as Promise<{ actors: Row[] }>);
          poll = setInterval(() => {
            void Promise.all([top('kind=guild&limit=1'), top('limit=5')]).then(([guilds, all]) =>
              tops.push({ at: Date.now(), first: guilds.actors[0], five: all.actors.map((a) => a.id) }),
            );
          }, 250);
        },
      },
    });
    clearInterval(poll);
    // Delivery is checked, not client-sim's latency budgets (this machine may be busy).
    expect(report.metrics.lost).toBe(0);
    expect(report.metrics.duplicated).toBe(0);
    expect(report.sessions.ready).toBe(report.sessions.total);

    const firstOnTop = tops.find((s) => s.first?.id === hot);
    expect(firstOnTop, JSON.stringify(tops.slice(0, 12))).toBeDefined();
    expect(firstOnTop!.at - loadStart).toBeLessThan(5_000);
    expect(firstOnTop!.first).toMatchObject({ name: expect.stringMatching(/ 0$/), traces: `/debug/traces?guild=${hot}` });
    // And it stays there once the flood has run a while (each post is a fanout to every session), among the busiest of all.
    const late = tops.filter((s) => s.at - loadStart > 3_000);
    expect(late.length).toBeGreaterThan(0);
    expect(late.filter((s) => s.first?.id === hot).length / late.length, JSON.stringify(late.slice(0, 6))).toBeGreaterThan(0.5);
    expect(late.filter((s) => s.five.includes(hot!)).length / late.length, JSON.stringify(late.slice(0, 6))).toBeGreaterThan(0.5);
  }, 90_000);

  it('slow deliveries and a slow guild message show in the viewer and the OTLP receiver, marked tail', async () => {
    const receiver: OtlpReceiver = await startOtlpReceiver();
    cleanups.push(() => receiver.close());
    const t = await startTestServer(
      { GUILDHALL_TRACE_VIEWER: 'on', GUILDHALL_SLOW_DELIVERY_MS: String(THRESHOLD_MS) },
      { tracingEnv: { ...ONE_PERCENT, OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_BSP_SCHEDULE_DELAY: '50' }, rateLimitPerSecond: 100_000 },
    );
    cleanups.push(() => t.close());
    let hot: { id: string; ownerId: string; channelId: string } | undefined;
    let poke: NodeJS.Timeout | undefined;
    cleanups.push(() => clearInterval(poke));

    const options = resolveOptions('hot-guild', { url: t.url, sessions: 40, guilds: 3, rate: 20, duration: 2, progress: 'off', timeout: 60 });
    const report = await runSimulation(options, {
      env: {},
      hooks: {
        onPhase: async (phase) => {
          if (phase !== 'ready') return;
          hot = await hotGuild(t);
          // Same intents as client-sim's hot-guild sessions (MESSAGE_CONTENT among them): one fanout, the stall in it.
          await joinStall(t, hot);
          // Now and then a post waits in the hot guild's mailbox while the thread is held.
          const guild = t.server.ctx.guild(hot.id);
          poke = setInterval(() => {
            guild.call({ type: 'create_message', channelId: hot!.channelId, authorId: hot!.ownerId, content: 'stuck' }).catch(() => undefined);
            hold(THRESHOLD_MS + 10);
          }, 300);
        },
      },
    });
    clearInterval(poke);
    // The stall's own posts are not client-sim's: they are "unexpected" to it, nothing else is wrong.
    expect(report.metrics.lost).toBe(0);
    expect(report.metrics.duplicated).toBe(0);
    expect(report.sessions.ready).toBe(report.sessions.total);
    const hotId = hot!.id;

    // The built-in viewer: traces holding tail spans, for the hot guild.
    await t.server.ctx.tracing.provider?.forceFlush();
    const listed = (await (await fetch(`${t.url}/debug/api/traces?tail=1&guild=${hotId}&limit=1000`)).json()) as { traces: { traceId: string; tailSpans: number }[] };
    expect(listed.traces.length).toBeGreaterThan(0);
    const spans: StoredSpan[] = listed.traces.flatMap((s) => t.server.traceStore.get(s.traceId) ?? []);
    const tail = spans.filter((s) => s.attributes['guildhall.tail'] === true);
    const guildRoots = tail.filter((s) => s.name === 'process guild' && s.parentSpanId === undefined && s.attributes['guildhall.guild.id'] === hotId);
    expect(guildRoots.length).toBeGreaterThan(0);
    for (const r of guildRoots) expect(r.attributes['guildhall.mailbox.wait_ms'] as number).toBeGreaterThanOrEqual(THRESHOLD_MS);
    const byId = new Map(spans.map((s) => [s.spanId, s]));
    const slowDeliveries = tail.filter((s) => s.name === 'process session');
    expect(slowDeliveries.length).toBeGreaterThan(0);
    for (const d of slowDeliveries) {
      const fanout = byId.get(d.parentSpanId!);
      expect(fanout?.name).toBe('fanout session');
      expect(fanout?.attributes['guildhall.guild.id']).toBeDefined();
      expect((d.attributes['guildhall.mailbox.wait_ms'] as number) + (d.attributes['guildhall.handle_ms'] as number)).toBeGreaterThanOrEqual(THRESHOLD_MS);
      // Children never start before their parents.
      expect(d.startMs).toBeGreaterThanOrEqual(fanout!.startMs);
    }
    // The hot guild's among them. A listed trace may hold other guilds' fanouts too: a session's presence
    // update (op 3) goes to every guild of the session, all in the one trace.
    expect(slowDeliveries.some((d) => byId.get(d.parentSpanId!)?.attributes['guildhall.guild.id'] === hotId)).toBe(true);

    // The OTLP receiver got the same tail spans.
    const tailIds = tail.map((s) => s.spanId);
    const received = await receiver.waitForSpans((all) => {
      const ids = new Set(all.map((s) => s.spanId));
      return tailIds.every((id) => ids.has(id));
    }, 20_000);
    for (const s of received.filter((r) => tailIds.includes(r.spanId))) expect(s.attributes['guildhall.tail']).toBe(true);

    // At 1 %, the traces that exist are almost all the ones tail capture made.
    const metrics = await (await fetch(`${t.url}/metrics`)).text();
    expect(Number(/^guildhall_tail_spans_total (\d+)/m.exec(metrics)?.[1])).toBeGreaterThanOrEqual(tail.length);
  }, 90_000);
});
