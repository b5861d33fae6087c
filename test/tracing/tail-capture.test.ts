// Tail capture through the real actor runtime, on a manual clock: a handler
// that moves the clock is a slow handler, a clock moved while a message waits
// is a long wait. No sleeping, no hoping.
import { type Span, TraceFlags, context, trace } from '@opentelemetry/api';
import { AlwaysOffSampler, ParentBasedSampler, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { afterEach, describe, expect, it } from 'vitest';
import { ActorSystem, type ActorRef, type Behaviour, ManualClock } from '../../actors/index.js';
import { ATTR_FANOUT_SIZE, ATTR_GUILD_ID, ATTR_HANDLE_MS, ATTR_MAILBOX_WAIT_MS, ATTR_TAIL } from '../../tracing/conventions.js';
import { FanoutSampler } from '../../tracing/fanout-sampler.js';
import type { TailOptions } from '../../tracing/tail-capture.js';
import { Transport } from '../../tracing/transport.js';
import { settle } from '../support/actors.js';
import { makeTracing, parentId } from '../support/tracing.js';

const systems: ActorSystem[] = [];
afterEach(() => {
  for (const s of systems.splice(0)) s.shutdown();
});

/** Roots are never sampled by the root sampler here (as at a low ratio): whatever is recorded, tail capture chose. */
function setup(tail: Partial<TailOptions> = {}) {
  const tracing = makeTracing(new FanoutSampler({ delegate: new ParentBasedSampler({ root: new AlwaysOffSampler() }) }));
  const clock = new ManualClock(1_000);
  const system = new ActorSystem({ clock, onError: () => {} });
  systems.push(system);
  // random() near 1 draws a gap longer than any broadcast here: sampled broadcasts keep no delivery.
  const sampler = new FanoutSampler({ k: 1, random: () => 0.999_999 });
  const transport = new Transport(system, { tracer: tracing.tracer, sampler, contextManager: tracing.contextManager, tail: { thresholdMs: 100, ...tail } }).install();
  return { ...tracing, clock, system, transport };
}

type SessionMsg = { type: 'dispatch'; slowMs: Record<string, number> };

/** A session whose handling takes as long as the message says for its id (the clock moves while it runs). */
function session(clock: ManualClock): Behaviour<null, { cast: SessionMsg }> {
  return {
    kind: 'session',
    init: () => null,
    handleCast: (msg, _state, actor) => {
      const ms = msg.slowMs[actor.id];
      if (ms !== undefined) clock.advance(ms);
    },
  };
}

const sampledParent = () =>
  trace.setSpan(context.active(), trace.wrapSpanContext({ traceId: 'a'.repeat(32), spanId: 'b'.repeat(16), traceFlags: TraceFlags.SAMPLED }));
const tailSpans = (spans: ReadableSpan[]) => spans.filter((s) => s.attributes[ATTR_TAIL] === true);

function sessions(system: ActorSystem, clock: ManualClock, n: number): ActorRef<{ cast: SessionMsg }>[] {
  return Array.from({ length: n }, (_, i) => system.spawn(session(clock), { key: `s${i}` }));
}

describe('tail capture of slow deliveries', () => {
  it('a slow delivery that sampling dropped becomes a child of its fanout span, marked tail, with wait and handle; fast ones make nothing', async () => {
    const { system, clock, transport, spans } = setup();
    const refs = sessions(system, clock, 50);
    await settle(system);
    // The last to be handled, so that no other delivery waits behind it (one thread: they would be slow too).
    const r = context.with(sampledParent(), () => system.broadcast(refs, { type: 'dispatch', slowMs: { s49: 150, s30: 20 } }, { attributes: { [ATTR_GUILD_ID]: 'g1' } }));
    expect(r).toEqual({ delivered: 50, kept: 0 });
    await settle(system);

    const [fanout] = spans().filter((s) => s.name === 'fanout session');
    const tail = tailSpans(spans());
    expect(tail).toHaveLength(1);
    const [slow] = tail;
    expect(slow!.name).toBe('process session');
    expect(slow!.attributes['guildhall.actor.id']).toBe('s49');
    expect(parentId(slow!)).toBe(fanout!.spanContext().spanId);
    expect(slow!.spanContext().traceId).toBe(fanout!.spanContext().traceId);
    expect(slow!.attributes[ATTR_HANDLE_MS]).toBe(150);
    // It waited behind s30's 20 ms (one thread).
    expect(slow!.attributes[ATTR_MAILBOX_WAIT_MS]).toBe(20);
    expect(slow!.attributes[ATTR_FANOUT_SIZE]).toBe(50);
    // Recorded after the fact: it spans enqueue to the end of handling, and does not start before its parent.
    const ms = (t: [number, number]) => t[0] * 1000 + t[1] / 1e6;
    expect(ms(slow!.endTime) - ms(slow!.startTime)).toBeCloseTo(170, 3);
    expect(ms(slow!.startTime)).toBeGreaterThanOrEqual(ms(fanout!.startTime));
    expect(transport.tailStats).toEqual({ recorded: 1, limited: 0 });
  });

  it('a delivery slow from its wait alone (the thread was busy elsewhere) is captured too', async () => {
    const { system, clock, transport, spans } = setup();
    const refs = sessions(system, clock, 3);
    await settle(system);
    // s0's handler holds the one thread for 150 ms: s1 and s2 wait that long in their mailboxes.
    context.with(sampledParent(), () => system.broadcast(refs, { type: 'dispatch', slowMs: { s0: 150 } }));
    await settle(system);
    const tail = tailSpans(spans());
    expect(tail.map((s) => [s.attributes['guildhall.actor.id'], s.attributes[ATTR_MAILBOX_WAIT_MS], s.attributes[ATTR_HANDLE_MS]])).toEqual([
      ['s0', 0, 150],
      ['s1', 150, 0],
      ['s2', 150, 0],
    ]);
    expect(transport.tailStats.recorded).toBe(3);
  });

  it('an unsampled broadcast: no trace by default; with deliveryRoots a root tagged like the broadcast', async () => {
    for (const deliveryRoots of [false, true]) {
      const { system, clock, spans } = setup({ deliveryRoots });
      const refs = sessions(system, clock, 10);
      await settle(system);
      system.broadcast(refs, { type: 'dispatch', slowMs: { s9: 200 } }, { attributes: { [ATTR_GUILD_ID]: 'g9' } });
      await settle(system);
      const tail = tailSpans(spans());
      if (!deliveryRoots) {
        expect(tail).toHaveLength(0);
        continue;
      }
      expect(tail).toHaveLength(1);
      expect(parentId(tail[0]!)).toBeUndefined();
      expect(tail[0]!.attributes[ATTR_GUILD_ID]).toBe('g9');
      expect(tail[0]!.attributes[ATTR_HANDLE_MS]).toBe(200);
    }
  });

  it('at most maxPerSecond tail spans per second; the rest are counted, never recorded later', async () => {
    const { system, clock, transport, spans } = setup({ maxPerSecond: 2 });
    const refs = sessions(system, clock, 6);
    await settle(system);
    const slowMs = Object.fromEntries(refs.map((r) => [r.address.id, 150]));
    context.with(sampledParent(), () => system.broadcast(refs, { type: 'dispatch', slowMs }));
    await settle(system);
    // Done at 150, 300, ..., 900 ms: a bucket of 2 that refills 0.3 per 150 ms grants the 1st, 2nd and 5th.
    expect(tailSpans(spans()).map((s) => s.attributes['guildhall.actor.id'])).toEqual(['s0', 's1', 's4']);
    expect(transport.tailStats).toEqual({ recorded: 3, limited: 3 });
  });

  it('threshold 0 is off: nothing watched, nothing recorded', async () => {
    const { system, clock, transport, spans } = setup({ thresholdMs: 0 });
    expect(system.relay.slowMs).toBe(Infinity);
    const refs = sessions(system, clock, 5);
    await settle(system);
    context.with(sampledParent(), () => system.broadcast(refs, { type: 'dispatch', slowMs: { s1: 500 } }));
    await settle(system);
    expect(tailSpans(spans())).toHaveLength(0);
    expect(transport.tailStats).toEqual({ recorded: 0, limited: 0 });
  });
});

describe('tail capture of long mailbox waits (guilds)', () => {
  type GuildMsg = { type: string };
  function guild(transport: Transport, log: Array<string | undefined>): Behaviour<null, { cast: GuildMsg }> {
    return {
      kind: 'guild',
      init: () => null,
      handleCast: () => {
        // What the handler does is in the trace it was given.
        transport.childSpan('store write', {}, () => log.push(trace.getActiveSpan()?.spanContext().traceId));
      },
    };
  }

  it('a message that waited past the threshold under no sampled trace starts one root, tagged, and is handled inside it', async () => {
    const { system, clock, transport, spans } = setup({ mailboxRoots: (a) => (a.kind === 'guild' ? { [ATTR_GUILD_ID]: a.id } : undefined) });
    const log: Array<string | undefined> = [];
    const g = system.spawn(guild(transport, log), { key: 'g42' });
    await settle(system);
    g.cast({ type: 'quick' });
    await settle(system);
    g.cast({ type: 'stuck' });
    clock.advance(250);
    await settle(system);

    const roots = tailSpans(spans());
    expect(roots).toHaveLength(1);
    const [root] = roots;
    expect(root!.name).toBe('process guild');
    expect(parentId(root!)).toBeUndefined();
    expect(root!.attributes[ATTR_GUILD_ID]).toBe('g42');
    expect(root!.attributes['guildhall.message.kind']).toBe('stuck');
    expect(root!.attributes[ATTR_MAILBOX_WAIT_MS]).toBe(250);
    const [write] = spans().filter((s) => s.name === 'store write');
    expect(parentId(write!)).toBe(root!.spanContext().spanId);
    expect(log).toEqual([undefined, root!.spanContext().traceId]);
  });

  it('other kinds of actor start no root for a long wait', async () => {
    const { system, clock, transport, spans } = setup({ mailboxRoots: (a) => (a.kind === 'guild' ? { [ATTR_GUILD_ID]: a.id } : undefined) });
    const refs = sessions(system, clock, 1);
    await settle(system);
    refs[0]!.cast({ type: 'dispatch', slowMs: {} });
    clock.advance(500);
    await settle(system);
    expect(spans()).toHaveLength(0);
    void transport;
  });
});

describe('process span clock', () => {
  it('a process span never starts before its parent, however far the mailbox clock moved', async () => {
    const tracing = makeTracing();
    const clock = new ManualClock(0);
    const system = new ActorSystem({ clock, onError: () => {} });
    systems.push(system);
    new Transport(system, { tracer: tracing.tracer, contextManager: tracing.contextManager }).install();
    const s = system.spawn(session(clock));
    await settle(system);
    let parent!: Span;
    tracing.tracer.startActiveSpan('parent', (span) => {
      parent = span;
      s.cast({ type: 'dispatch', slowMs: {} });
      span.end();
    });
    // The mailbox clock says 5 ms passed before dequeue; the wall clock barely moved. The
    // start computed from the wait (now - 5 ms) falls before the parent's start.
    clock.advance(5);
    await settle(system);
    const [child] = tracing.spans().filter((x) => x.name === 'process session');
    const ms = (t: [number, number]) => t[0] * 1000 + t[1] / 1e6;
    expect(parentId(child!)).toBe(parent.spanContext().spanId);
    expect(ms(child!.startTime)).toBeGreaterThanOrEqual(ms((parent as unknown as ReadableSpan).startTime));
  });
});
