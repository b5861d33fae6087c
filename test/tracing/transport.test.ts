import { ROOT_CONTEXT, type Span, SpanKind, SpanStatusCode, context, trace } from '@opentelemetry/api';
import { AlwaysOnSampler, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { afterEach, describe, expect, it } from 'vitest';
import { ActorSystem, type ActorRef, type Behaviour, Envelope, type Interceptor, isEnvelope } from '../../actors/index.js';
import {
  ATTR_FANOUT_ADJUSTED_COUNT,
  ATTR_FANOUT_RATE,
  ATTR_FANOUT_SIZE,
  ATTR_MAILBOX_DEPTH,
  ATTR_MAILBOX_WAIT_MS,
  ATTR_MESSAGE_KIND,
} from '../../tracing/conventions.js';
import { DebugSampling } from '../../tracing/debug-sampling.js';
import { FanoutSampler } from '../../tracing/fanout-sampler.js';
import { parseTraceparent } from '../../tracing/traceparent.js';
import { Transport } from '../../tracing/transport.js';
import { deferred, settle } from '../support/actors.js';
import { makeTracing, parentId } from '../support/tracing.js';

const systems: ActorSystem[] = [];
afterEach(() => {
  for (const s of systems.splice(0)) s.shutdown();
});

function setup(k = 10) {
  const tracing = makeTracing(new FanoutSampler({ k, delegate: new AlwaysOnSampler() }));
  const system = new ActorSystem({ onError: () => {} });
  systems.push(system);
  // The registered context manager, read directly, as the server sets it up.
  const transport = new Transport(system, { tracer: tracing.tracer, sampler: new FanoutSampler({ k }), contextManager: tracing.contextManager }).install();
  return { ...tracing, system, transport };
}

/** Records what arrives at each mailbox before the Transport sees it. */
function recordPayloads(system: ActorSystem): unknown[] {
  const seen: unknown[] = [];
  const recorder: Interceptor = {
    inbound(entry, actor, payload, next, handle) {
      seen.push(payload);
      return next(entry, actor, payload, handle);
    },
  };
  // Installed first, so it sees the raw payload.
  system.relay.use(recorder);
  return seen;
}

type Msg = { type: string; gate?: Promise<void>; to?: ActorRef<SessionP> };
type SessionP = { cast: Msg; call: 'active'; reply: string | undefined };

function session(log: Array<string | undefined>, transport?: Transport): Behaviour<null, SessionP> {
  return {
    kind: 'session',
    init: () => null,
    handleCast: (msg) => {
      log.push(trace.getActiveSpan()?.spanContext().spanId);
      transport?.childSpan('socket write', {}, () => undefined);
      void msg;
    },
    handleCall: () => trace.getActiveSpan()?.spanContext().spanId,
  };
}

function guild(transport: Transport): Behaviour<null, { cast: Msg; call: Msg; reply: string }> {
  return {
    kind: 'guild',
    init: () => null,
    handleCall: async (msg) => {
      if (msg.gate) await msg.gate;
      return 'ok';
    },
    handleCast: (msg) => {
      if (msg.to) msg.to.cast({ type: 'DISPATCH' });
      void transport;
    },
  };
}

const byName = (spans: ReadableSpan[], name: string) => spans.filter((s) => s.name === name);

describe('Transport: context through mailboxes', () => {
  it('a three-hop chain (ingress -> guild -> session) forms one trace with the right parents and the wait it met', async () => {
    const { system, transport, tracer, spans } = setup();
    const log: Array<string | undefined> = [];
    const g = system.spawn(guild(transport));
    const s = system.spawn(session(log, transport));

    // A slow call queued ahead of the traced message makes it wait.
    const gate = deferred();
    const slow = g.call({ type: 'slow', gate: gate.promise });
    await settle(system);
    let ingress!: Span;
    tracer.startActiveSpan('POST /channels/:id/messages', (span) => {
      ingress = span;
      g.cast({ type: 'MESSAGE_CREATE', to: s });
      span.end();
    });
    await new Promise((r) => setTimeout(r, 40));
    gate.resolve();
    await slow;
    await settle(system);

    const all = spans();
    const [guildSpan] = byName(all, 'process guild').filter((x) => x.attributes[ATTR_MESSAGE_KIND] === 'MESSAGE_CREATE');
    const [sessionSpan] = byName(all, 'process session');
    const [write] = byName(all, 'socket write');
    expect(guildSpan && sessionSpan && write).toBeTruthy();
    const traceId = ingress.spanContext().traceId;
    for (const sp of [guildSpan!, sessionSpan!, write!]) expect(sp.spanContext().traceId).toBe(traceId);
    expect(parentId(guildSpan!)).toBe(ingress.spanContext().spanId);
    expect(parentId(sessionSpan!)).toBe(guildSpan!.spanContext().spanId);
    expect(parentId(write!)).toBe(sessionSpan!.spanContext().spanId);
    expect(guildSpan!.kind).toBe(SpanKind.CONSUMER);
    expect(guildSpan!.attributes[ATTR_MAILBOX_WAIT_MS]).toBeGreaterThanOrEqual(30);
    expect(sessionSpan!.attributes[ATTR_MAILBOX_WAIT_MS]).toBeLessThan(30);
    expect(guildSpan!.attributes[ATTR_MAILBOX_DEPTH]).toBe(0);
    // The session handler ran inside its own process span.
    expect(log).toEqual([sessionSpan!.spanContext().spanId]);
  });

  it('interleaved messages from two traces into one actor: each handler span has its own sender as parent', async () => {
    const { system, transport, tracer, spans } = setup();
    void transport;
    const s = system.spawn(session([]));
    const roots: Span[] = [tracer.startSpan('a'), tracer.startSpan('b')];
    for (let i = 0; i < 10; i++) {
      const root = roots[i % 2]!;
      context.with(trace.setSpan(context.active(), root), () => s.cast({ type: `m${i}` }));
    }
    await settle(system);
    const handled = byName(spans(), 'process session');
    expect(handled).toHaveLength(10);
    for (const sp of handled) {
      const i = Number(String(sp.attributes[ATTR_MESSAGE_KIND]).slice(1));
      expect(parentId(sp)).toBe(roots[i % 2]!.spanContext().spanId);
      expect(sp.spanContext().traceId).toBe(roots[i % 2]!.spanContext().traceId);
    }
  });

  it('a call reply resumes in the caller context', async () => {
    const { system, tracer } = setup();
    const s = system.spawn(session([]));
    await tracer.startActiveSpan('caller', async (span) => {
      const inside = await s.call('active');
      expect(inside).toBeDefined();
      expect(inside).not.toBe(span.spanContext().spanId);
      expect(trace.getActiveSpan()).toBe(span);
      span.end();
    });
  });

  it('a bare message runs in the ROOT context, never in the context that woke the scheduler', async () => {
    const { system, tracer, spans } = setup();
    const log: Array<string | undefined> = [];
    const s = system.spawn(session(log));
    await settle(system);
    tracer.startActiveSpan('unrelated', (span) => {
      // An uninstrumented sender: straight into the mailbox, no envelope.
      system.deliver(s.address, 'cast', { type: 'bare' });
      span.end();
    });
    await settle(system);
    expect(log).toEqual([undefined]);
    expect(byName(spans(), 'process session')).toHaveLength(0);
  });

  it('handles bare and enveloped messages alike; unsampled work sends bare messages', async () => {
    const { system, tracer } = setup();
    const seen = recordPayloads(system);
    const log: Array<string | undefined> = [];
    const s = system.spawn(session(log));
    s.cast({ type: 'no-context' });
    const unsampled = trace.wrapSpanContext({ traceId: 'a'.repeat(32), spanId: 'b'.repeat(16), traceFlags: 0 });
    context.with(trace.setSpan(context.active(), unsampled), () => s.cast({ type: 'unsampled' }));
    tracer.startActiveSpan('sampled', (span) => {
      s.cast({ type: 'sampled' });
      span.end();
    });
    await settle(system);
    expect(seen.map((p) => p instanceof Envelope)).toEqual([false, false, true]);
    expect(log).toHaveLength(3);
  });

  it('each send carries the context active at that send, however contexts alternate', async () => {
    const { system, transport, tracer } = setup();
    const seen = recordPayloads(system);
    const s = system.spawn(session([]));
    const a = trace.setSpan(context.active(), tracer.startSpan('a'));
    const unsampled = trace.setSpan(context.active(), trace.wrapSpanContext({ traceId: 'a'.repeat(32), spanId: 'b'.repeat(16), traceFlags: 0 }));
    const b = trace.setSpan(context.active(), tracer.startSpan('b'));
    const order = [a, a, unsampled, a, b, b, unsampled, unsampled, a];
    for (const ctx of order) context.with(ctx, () => s.cast({ type: 'm' }));
    transport.enabled = false;
    context.with(a, () => s.cast({ type: 'off' }));
    transport.enabled = true;
    context.with(a, () => s.cast({ type: 'on again' }));
    await settle(system);
    const spanIdOf = (ctx: typeof a) => trace.getSpan(ctx)!.spanContext().spanId;
    const expected = [...order.map((ctx) => (ctx === unsampled ? undefined : spanIdOf(ctx))), undefined, spanIdOf(a)];
    expect(seen.map((p) => (p instanceof Envelope ? p.carrier!.traceparent.split('-')[2] : undefined))).toEqual(expected);
  });

  it('reads the active context through the API when given a context manager that is not the registered one', async () => {
    const { tracer } = makeTracing();
    const system = new ActorSystem({ onError: () => {} });
    systems.push(system);
    const seen = recordPayloads(system);
    new Transport(system, { tracer, contextManager: new AsyncLocalStorageContextManager().enable() }).install();
    const s = system.spawn(session([]));
    const span = tracer.startSpan('sampled');
    context.with(trace.setSpan(context.active(), span), () => s.cast({ type: 'm' }));
    span.end();
    await settle(system);
    expect(seen).toHaveLength(1);
    expect(isEnvelope(seen[0]) && seen[0].carrier?.traceparent.split('-')[2]).toBe(span.spanContext().spanId);
  });

  it('switched off: no carriers and no actor spans, and it interoperates both ways', async () => {
    const { system, transport, tracer, spans } = setup();
    const seen = recordPayloads(system);
    const log: Array<string | undefined> = [];
    const s = system.spawn(session(log));
    transport.enabled = false;
    tracer.startActiveSpan('sampled', (span) => {
      s.cast({ type: 'x' });
      system.broadcast([s], { type: 'y' });
      span.end();
    });
    // An envelope from an instrumented node still arrives intact.
    system.deliver(s.address, 'cast', new Envelope({ type: 'z' }, { traceparent: `00-${'1'.repeat(32)}-${'2'.repeat(16)}-01` }));
    await settle(system);
    expect(seen.filter((p) => p instanceof Envelope)).toHaveLength(1);
    expect(log).toEqual([undefined, undefined, undefined]);
    expect(spans().filter((sp) => sp.name.startsWith('process') || sp.name.startsWith('fanout'))).toHaveLength(0);
  });

  it('a throwing handler marks its span as an error', async () => {
    const { system, tracer, spans } = setup();
    const ref = system.spawn<null, { cast: 'x' }>({
      kind: 'crashy',
      init: () => null,
      handleCast: () => {
        throw new Error('bad');
      },
    });
    tracer.startActiveSpan('root', (span) => {
      ref.cast('x');
      span.end();
    });
    await settle(system);
    const [sp] = byName(spans(), 'process crashy');
    expect(sp?.status.code).toBe(SpanStatusCode.ERROR);
  });
});

describe('Transport: debug windows and bare messages', () => {
  it('bare messages skip the Transport until a window opens for their actor, which then roots a trace', async () => {
    const tracing = makeTracing(new FanoutSampler({ delegate: new AlwaysOnSampler() }));
    const system = new ActorSystem({ onError: () => {} });
    systems.push(system);
    let now = 1_000_000;
    const debug = new DebugSampling({ now: () => now, actorKey: (kind, id) => (kind === 'session' ? id : undefined) });
    const transport = new Transport(system, { tracer: tracing.tracer, debug }).install();
    const log: Array<string | undefined> = [];
    const s = system.spawn(session(log));
    expect(transport.inboundBare).toBe(false);
    s.cast({ type: 'before' });
    await settle(system);
    debug.enable(s.address.id, 60_000);
    expect(transport.inboundBare).toBe(true);
    s.cast({ type: 'during' });
    await settle(system);
    now += 60_001; // the window closes by itself
    s.cast({ type: 'after' });
    await settle(system);
    const handled = byName(tracing.spans(), 'process session');
    expect(handled.map((sp) => sp.attributes[ATTR_MESSAGE_KIND])).toEqual(['during']);
    expect(parentId(handled[0]!)).toBeUndefined();
    expect(log).toEqual([undefined, handled[0]!.spanContext().spanId, undefined]);
    expect(transport.inboundBare).toBe(false);
  });
});

describe('Transport: a carrier made in this process', () => {
  it('gives a kept delivery the parent that parsing the carrier gives (remote, sampled flag alone, tracestate)', async () => {
    const { system, transport, tracer, spans } = setup(10);
    const seen = recordPayloads(system);
    const refs = Array.from({ length: 5 }, () => system.spawn(session([], transport)));
    await settle(system, 1_000);
    const remote = parseTraceparent('00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01', 'vendor=abc,other=1')!;
    tracer.startActiveSpan('broadcast', {}, trace.setSpanContext(ROOT_CONTEXT, remote), (root) => {
      system.broadcast(refs, { type: 'MESSAGE_CREATE' });
      root.end();
    });
    await settle(system, 1_000);
    const carriers = seen.filter(isEnvelope).map((e) => e.carrier!);
    const deliveries = byName(spans(), 'process session');
    expect(deliveries).toHaveLength(5);
    expect(carriers).toHaveLength(5);
    for (const [i, d] of deliveries.entries()) {
      const parsed = parseTraceparent(carriers[i]!.traceparent, carriers[i]!.tracestate)!;
      const parent = d.parentSpanContext!;
      expect({ ...parent, traceState: parent.traceState?.serialize() }).toEqual({ ...parsed, traceState: parsed.traceState?.serialize() });
      expect(parent.isRemote).toBe(true);
      expect(parent.traceState?.serialize()).toBe('vendor=abc,other=1');
    }
  });
});

describe('Transport: fanout span attributes', () => {
  it("carry the broadcast's own attributes, ours winning where both name one", async () => {
    const { system, transport, tracer, spans } = setup(10);
    const refs = Array.from({ length: 3 }, () => system.spawn(session([], transport)));
    await settle(system, 1_000);
    tracer.startActiveSpan('broadcast', (root) => {
      system.broadcast(refs, { type: 'MESSAGE_CREATE' }, { attributes: { 'guildhall.guild.id': '42', [ATTR_FANOUT_SIZE]: 'not ours' } });
      root.end();
    });
    await settle(system, 1_000);
    const [fanout] = byName(spans(), 'fanout session');
    expect(fanout!.attributes['guildhall.guild.id']).toBe('42');
    expect(fanout!.attributes[ATTR_FANOUT_SIZE]).toBe(3);
    expect(fanout!.attributes[ATTR_FANOUT_RATE]).toBe(1);
    expect(fanout!.attributes['messaging.batch.message_count']).toBe(3);
  });
});

describe('Transport: fanout sampling', () => {
  async function broadcastMany(n: number, broadcasts: number, k = 10) {
    const { system, transport, tracer, spans } = setup(k);
    const seen = recordPayloads(system);
    const refs = Array.from({ length: n }, () => system.spawn(session([], transport), { mailbox: { capacity: broadcasts + 1 } }));
    await settle(system, 100_000);
    const roots: Span[] = [];
    let keptReported = 0;
    for (let b = 0; b < broadcasts; b++) {
      tracer.startActiveSpan('broadcast', (root) => {
        roots.push(root);
        keptReported += system.broadcast(refs, { type: 'MESSAGE_CREATE' }).kept;
        root.end();
      });
    }
    await settle(system, 100_000);
    return { all: spans(), seen, roots, keptReported };
  }

  it.each([
    // [recipients, broadcasts, expected kept per broadcast]
    [1, 50, 1],
    [100, 100, 10],
    [10_000, 20, 10],
  ])('fanout to %i keeps about K deliveries per broadcast, all children of the fanout span', async (n, broadcasts, perBroadcast) => {
    const { all, seen, roots, keptReported } = await broadcastMany(n, broadcasts);
    const fanouts = byName(all, 'fanout session');
    const deliveries = byName(all, 'process session');
    expect(fanouts).toHaveLength(broadcasts);
    const fanoutIds = new Set(fanouts.map((f) => f.spanContext().spanId));
    for (const f of fanouts) {
      expect(f.attributes[ATTR_FANOUT_SIZE]).toBe(n);
      expect(roots.map((r) => r.spanContext().spanId)).toContain(parentId(f));
    }
    for (const d of deliveries) {
      expect(fanoutIds.has(parentId(d)!)).toBe(true);
      expect(d.attributes[ATTR_FANOUT_SIZE]).toBe(n);
      expect(d.attributes[ATTR_FANOUT_RATE]).toBeCloseTo(Math.min(1, 10 / n));
      expect(d.attributes[ATTR_FANOUT_ADJUSTED_COUNT]).toBeCloseTo(Math.max(1, n / 10));
    }
    // Kept deliveries ~ Binomial(broadcasts * n, p): allow five standard deviations.
    const p = Math.min(1, 10 / n);
    const mean = broadcasts * n * p;
    const sd = Math.sqrt(broadcasts * n * p * (1 - p));
    expect(Math.abs(deliveries.length - mean)).toBeLessThanOrEqual(5 * sd + 1e-9);
    expect(deliveries.length / broadcasts).toBeGreaterThan(perBroadcast * 0.5);
    expect(keptReported).toBe(deliveries.length);
    // Only kept deliveries carried a carrier; the rest arrived bare.
    const enveloped = seen.filter((s) => s instanceof Envelope);
    expect(enveloped).toHaveLength(deliveries.length);
    expect(seen.length - enveloped.length).toBe(broadcasts * n - deliveries.length);
    // No delivery started a root of its own, even with an always-on root sampler.
    const rootSpans = all.filter((s) => !s.parentSpanContext);
    expect(rootSpans).toHaveLength(broadcasts);
    // Each kept delivery's child work (socket write) sits under it; none elsewhere.
    expect(byName(all, 'socket write')).toHaveLength(deliveries.length);
  });

  it('event() marks the active sampled span only, building its attributes only then', async () => {
    const { system, transport, tracer, spans } = setup();
    let built = 0;
    const refs = Array.from({ length: 100 }, () =>
      system.spawn<null, { cast: string }>({
        kind: 'session',
        init: () => null,
        handleCast: () => transport.event('gateway.send', () => ({ n: ++built })),
      }),
    );
    await settle(system);
    tracer.startActiveSpan('broadcast', (root) => {
      system.broadcast(refs, 'x');
      root.end();
    });
    transport.event('outside', () => ({ n: ++built }));
    await settle(system);
    const deliveries = byName(spans(), 'process session');
    expect(deliveries.length).toBeGreaterThan(0);
    for (const d of deliveries) expect(d.events.map((e) => e.name)).toContain('gateway.send');
    expect(built).toBe(deliveries.length);
  });

  it('an unkept delivery of a sampled broadcast runs as an unsampled one: bare, in the ROOT context (its continuations too), starting no span', async () => {
    const tracing = makeTracing(new FanoutSampler({ k: 10, delegate: new AlwaysOnSampler() }));
    const system = new ActorSystem({ onError: () => {} });
    systems.push(system);
    // As the server configures it: debug sampling (no window open) and tail capture.
    const transport = new Transport(system, {
      tracer: tracing.tracer,
      sampler: new FanoutSampler({ k: 10 }),
      contextManager: tracing.contextManager,
      debug: new DebugSampling(),
      tail: { thresholdMs: 60_000, mailboxRoots: (actor) => (actor.kind === 'guild' ? { guild: actor.id } : undefined) },
    }).install();
    const seen = recordPayloads(system);
    const unkept: { bare: boolean; root: boolean; later: Promise<boolean> }[] = [];
    let kept = 0;
    const refs = Array.from({ length: 200 }, () =>
      system.spawn<null, { cast: Msg }>({
        kind: 'session',
        init: () => null,
        handleCast: () => {
          if (trace.getActiveSpan() !== undefined) {
            kept++;
            return;
          }
          transport.childSpan('socket write', {}, () => undefined);
          transport.event('gateway.send', () => ({}));
          // What the handler starts (a socket write's callbacks, say) runs in the ROOT context too.
          const later = new Promise<boolean>((resolve) => setImmediate(() => resolve(context.active() === ROOT_CONTEXT)));
          unkept.push({ bare: !isEnvelope(seen.at(-1)), root: context.active() === ROOT_CONTEXT, later });
        },
      }),
    );
    await settle(system);
    const result = tracing.tracer.startActiveSpan('broadcast', (root) => {
      const r = system.broadcast(refs, { type: 'MESSAGE_CREATE' });
      root.end();
      return r;
    });
    await settle(system);
    expect(result.kept).toBe(kept);
    expect(kept).toBeGreaterThan(0);
    expect(unkept).toHaveLength(200 - kept);
    expect(unkept.every((u) => u.bare && u.root)).toBe(true);
    expect(await Promise.all(unkept.map((u) => u.later))).toEqual(unkept.map(() => true));
    // The root, the fanout and one span per kept delivery: nothing from the unkept ones.
    const all = tracing.spans();
    expect(all.map((s) => s.name).sort()).toEqual(['broadcast', 'fanout session', ...Array(kept).fill('process session')].sort());
    expect(byName(all, 'process session').every((d) => d.events.length === 1)).toBe(true);
  });

  it('an unsampled broadcast makes no fanout span and no carriers', async () => {
    const { system, transport, spans } = setup();
    const seen = recordPayloads(system);
    const refs = Array.from({ length: 50 }, () => system.spawn(session([], transport)));
    expect(system.broadcast(refs, { type: 'x' })).toEqual({ delivered: 50, kept: 0 });
    await settle(system);
    expect(seen.filter((s) => s instanceof Envelope)).toHaveLength(0);
    expect(spans()).toHaveLength(0);
  });
});
