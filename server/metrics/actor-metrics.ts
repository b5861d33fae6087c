// Per actor kind: messages handled, time in mailbox, handling time, mailbox
// depth, restarts, stops and overflow drops.
//
// The hot path: one send -> handle costs ~200-300 ns, and a guild broadcast to
// 10,000 sessions is 10,000 of them. So per message this adds one integer
// increment on a per-kind record (found by comparing the kind with the last
// one seen: one string compare, no Map lookup in a run of same-kind messages).
// Only one message in SAMPLE_EVERY per kind is timed (two clock reads and two
// observations on allocation-free histogram cells, see cheap-histogram.ts); the histograms are therefore a uniform sample of
// the traffic, and their _count is about handled / SAMPLE_EVERY. The exact
// count is guildhall_actor_messages_handled_total. Depth is read at scrape
// time by walking the running actors, never tracked per message.
//
// It is an interceptor of its own beside the Transport (inbound only, installed
// first so its handling time includes the Transport's span work): the relay
// composes the two once, when installed, so no closure is made per message.
// server/actor-runtime.ts installs both, for the server and bench:actors alike.
import { type ActorSystem, type Address, type Handle, type InboundNext, type Interceptor, isEnvelope, type MailboxEntry } from '../../actors/index.js';
import { isSampledTraceparent } from '../../tracing/index.js';
import type { Registry } from 'prom-client';
import { CheapHistogram, type HistogramCell } from './cheap-histogram.js';
import { type Labelled, scrapedCounter, scrapedGauge } from './scrape.js';

/** Time one message in this many, per actor kind (a power of two: the check is a mask). */
export const SAMPLE_EVERY = 16;
const SAMPLE_MASK = SAMPLE_EVERY - 1;

const LATENCY_BUCKETS = [0.000_01, 0.000_05, 0.000_1, 0.000_5, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30];

interface KindStats {
  readonly kind: string;
  handled: number;
  restarts: number;
  dropped: number;
  readonly stops: Map<string, number>;
  readonly wait: HistogramCell;
  readonly handle: HistogramCell;
}

interface Thenable {
  then(ok: (v: unknown) => unknown, err: (e: unknown) => unknown): unknown;
}

export class ActorMetrics implements Interceptor {
  private readonly kinds = new Map<string, KindStats>();
  private last: KindStats | undefined;
  private walked: [string, { count: number; depth: number; max: number }][] | undefined;
  private readonly waitHistogram: CheapHistogram;
  private readonly handleHistogram: CheapHistogram;

  constructor(
    registry: Registry,
    private readonly system: ActorSystem,
  ) {
    this.waitHistogram = new CheapHistogram(
      registry,
      'guildhall_actor_mailbox_wait_seconds',
      `Time a message waited in an actor's mailbox before handling began (sampled: 1 in ${SAMPLE_EVERY} messages per kind)`,
      LATENCY_BUCKETS,
    );
    this.handleHistogram = new CheapHistogram(
      registry,
      'guildhall_actor_handle_seconds',
      `Time an actor spent handling a message, until its promise settled (sampled: 1 in ${SAMPLE_EVERY} messages per kind)`,
      LATENCY_BUCKETS,
    );
    const perKind = (pick: (s: KindStats) => number): Labelled => [...this.kinds.values()].map((s) => [{ kind: s.kind }, pick(s)] as const);
    scrapedCounter(registry, 'guildhall_actor_messages_handled_total', 'Messages handed to actors, by actor kind (exact)', ['kind'], () => perKind((s) => s.handled));
    scrapedCounter(registry, 'guildhall_actor_restarts_total', 'Actor restarts by the supervisor after a crash, by actor kind', ['kind'], () => perKind((s) => s.restarts));
    scrapedCounter(registry, 'guildhall_actor_mailbox_dropped_total', 'Messages refused or dropped by a full mailbox, by actor kind', ['kind'], () => perKind((s) => s.dropped));
    scrapedCounter(registry, 'guildhall_actor_stops_total', 'Actors stopped, by kind and reason (normal, crash, overflow, shutdown)', ['kind', 'reason'], () =>
      [...this.kinds.values()].flatMap((s) => [...s.stops].map(([reason, n]) => [{ kind: s.kind, reason }, n] as const)),
    );
    scrapedGauge(registry, 'guildhall_actors', 'Running actors, by kind', ['kind'], () => this.walk().map(([kind, d]) => [{ kind }, d.count] as const));
    scrapedGauge(registry, 'guildhall_actor_mailbox_depth', 'Messages waiting in mailboxes now, summed over the actors of a kind', ['kind'], () =>
      this.walk().map(([kind, d]) => [{ kind }, d.depth] as const),
    );
    scrapedGauge(registry, 'guildhall_actor_mailbox_depth_max', 'Deepest mailbox now among the actors of a kind', ['kind'], () => this.walk().map(([kind, d]) => [{ kind }, d.max] as const));

    system.on((event) => {
      const s = this.statsFor(event.address.kind);
      if (event.type === 'restart') s.restarts++;
      else if (event.type === 'drop') s.dropped++;
      else s.stops.set(event.reason.type, (s.stops.get(event.reason.type) ?? 0) + 1);
    });
  }

  /** Counts every handled message; times one in SAMPLE_EVERY per kind. */
  inbound(entry: MailboxEntry, actor: Address, payload: unknown, next: InboundNext, handle: Handle): unknown {
    let s = this.last;
    if (s === undefined || s.kind !== actor.kind) s = this.last = this.statsFor(actor.kind);
    if ((++s.handled & SAMPLE_MASK) !== 0) return next(entry, actor, payload, handle);
    return this.timed(s, entry, actor, payload, next, handle);
  }

  private timed(s: KindStats, entry: MailboxEntry, actor: Address, payload: unknown, next: InboundNext, handle: Handle): unknown {
    // The cell read the clock as it took the entry out.
    const start = entry.dequeuedAt;
    const wait = Math.max(0, start - entry.enqueuedAt) / 1000;
    // Handled under a sampled trace: the observation carries its trace id as an exemplar.
    const traceId = tracedId(payload);
    if (traceId === undefined) s.wait.observe(wait);
    else s.wait.observeTraced(wait, traceId);
    let result: unknown;
    try {
      result = next(entry, actor, payload, handle);
    } catch (err) {
      this.handled(s, start, traceId);
      throw err;
    }
    if (result !== null && typeof result === 'object' && typeof (result as Thenable).then === 'function') {
      return (result as Thenable).then(
        (value) => {
          this.handled(s, start, traceId);
          return value;
        },
        (err) => {
          this.handled(s, start, traceId);
          throw err;
        },
      );
    }
    // A synchronous handler (nearly all): observed here, with no closure made for it.
    this.handled(s, start, traceId);
    return result;
  }

  private handled(s: KindStats, start: number, traceId: string | undefined): void {
    const handled = (this.system.clock.now() - start) / 1000;
    if (traceId === undefined) s.handle.observe(handled);
    else s.handle.observeTraced(handled, traceId);
  }

  private statsFor(kind: string): KindStats {
    let s = this.kinds.get(kind);
    if (!s) {
      s = { kind, handled: 0, restarts: 0, dropped: 0, stops: new Map(), wait: this.waitHistogram.cell({ kind }), handle: this.handleHistogram.cell({ kind }) };
      this.kinds.set(kind, s);
    }
    return s;
  }

  /** Count, summed depth and deepest mailbox per kind, over the running actors; one walk serves a whole scrape. */
  private walk(): [string, { count: number; depth: number; max: number }][] {
    if (this.walked === undefined) {
      this.walked = this.walkNow();
      setImmediate(() => (this.walked = undefined));
    }
    return this.walked;
  }

  private walkNow(): [string, { count: number; depth: number; max: number }][] {
    const out = new Map<string, { count: number; depth: number; max: number }>();
    for (const kind of this.kinds.keys()) out.set(kind, { count: 0, depth: 0, max: 0 });
    for (const address of this.system.addresses()) {
      const stats = this.system.inspect(this.system.refFor(address));
      if (!stats) continue;
      let d = out.get(stats.kind);
      if (!d) out.set(stats.kind, (d = { count: 0, depth: 0, max: 0 }));
      d.count++;
      d.depth += stats.depth;
      if (stats.depth > d.max) d.max = stats.depth;
    }
    return [...out];
  }
}

/** The trace id a payload travels in when its trace is sampled (the Transport then makes its span), else undefined. */
function tracedId(payload: unknown): string | undefined {
  if (!isEnvelope(payload)) return undefined;
  const traceparent = payload.carrier?.traceparent;
  // version-traceid-spanid-flags: the id is characters 3 to 35.
  return traceparent !== undefined && isSampledTraceparent(traceparent) ? traceparent.slice(3, 35) : undefined;
}
