// The actor runtime wired as the server wires it, for the benchmarks that time
// it (bench/actors.bench.ts) and the one that counts its instructions
// (bench/actors-counted.ts): both drive the same rigs, so a timed figure and a
// counted one describe the same code path.
import { ROOT_CONTEXT, type Tracer, context, trace } from '@opentelemetry/api';
import { AlwaysOnSampler, BasicTracerProvider, BatchSpanProcessor, type ReadableSpan, type SpanExporter } from '@opentelemetry/sdk-trace-base';
import { Registry } from 'prom-client';
import { ActorSystem } from '../actors/index.js';
import { wireRelay } from '../server/actor-runtime.js';
import { ActorMetrics } from '../server/metrics/actor-metrics.js';
import { ScopedContextManager } from '../tracing/context-manager.js';
import { DebugSampling } from '../tracing/debug-sampling.js';
import { FanoutSampler } from '../tracing/fanout-sampler.js';
import { Transport, type TransportOptions } from '../tracing/transport.js';

/** GUILDHALL_SLOW_DELIVERY_MS's default (server/config.ts). */
export const SERVER_SLOW_DELIVERY_MS = 100;

export const turn = () => new Promise((r) => setImmediate(r));

/**
 * For running under callgrind, which runs code some 50 times slower: a
 * scheduler slice long enough for a batch to be handled in one slice, as it is
 * natively within the default 5 ms (otherwise the count includes event-loop
 * turns that only the slowdown causes), and a tail threshold no message
 * reaches (the check alone, as bench:sampling-ab's --tail-on-ms 60000).
 */
export interface RigTiming {
  sliceMs?: number;
  tailMs?: number;
}

/** Exports nowhere but counts, so span creation and batching are paid and export I/O is not. */
class CountingExporter implements SpanExporter {
  exported = 0;
  export(spans: ReadableSpan[], done: (r: { code: number }) => void): void {
    this.exported += spans.length;
    done({ code: 0 });
  }
  async shutdown(): Promise<void> {}
}

export function tracingSetup() {
  const contextManager = new ScopedContextManager().enable();
  context.setGlobalContextManager(contextManager);
  const provider = new BasicTracerProvider({
    sampler: new FanoutSampler({ delegate: new AlwaysOnSampler() }),
    spanProcessors: [new BatchSpanProcessor(new CountingExporter(), { maxQueueSize: 65_536, maxExportBatchSize: 4096, scheduledDelayMillis: 50 })],
  });
  // The server's context manager, read directly by the Transport (tracing/setup.ts).
  return { provider, tracer: provider.getTracer('bench'), contextManager };
}

/**
 * The Transport as server/app.ts configures it with its defaults: debug
 * sampling (no window open) and tail capture at the default threshold, which
 * installs the relay's slow-message watch; with tracing off, neither.
 */
export function serverTransportOptions(tracer: Tracer, contextManager: ScopedContextManager, enabled: boolean, tailMs = SERVER_SLOW_DELIVERY_MS): TransportOptions {
  return {
    tracer,
    contextManager,
    enabled,
    debug: new DebugSampling(),
    tail: { thresholdMs: enabled ? tailMs : 0, maxPerSecond: 100, mailboxRoots: (actor) => (actor.kind === 'guild' ? { 'guildhall.guild.id': actor.id } : undefined) },
  };
}

/** The server's relay wiring (server/app.ts), with the Transport on or off. */
export function wired(system: ActorSystem, transport: Transport): void {
  wireRelay(system, { metrics: new ActorMetrics(new Registry(), system), transport });
}

/**
 * How send -> handle is wired. `untraced`: the Transport switched off (tracing
 * disabled). `unsampled`: the Transport on and the sender inside a trace that
 * is not sampled (in its `context.with()`). `no_trace`: the Transport on and
 * the sender in no trace at all, outside any `with()`, as a handler of a bare
 * message is: there every send reads the context from AsyncLocalStorage.
 * `unsampled_tail_off`: unsampled with tail capture off
 * (GUILDHALL_SLOW_DELIVERY_MS=0), so no slow-message watch.
 */
export type SendHandleMode = 'untraced' | 'unsampled' | 'no_trace' | 'unsampled_tail_off';

/** Send -> handle: `batch(n)` casts n messages to one actor and resolves when all are handled. */
export function sendHandleRig(mode: SendHandleMode, timing: RigTiming = {}): { batch(n: number): Promise<void> } {
  const { tracer, contextManager } = tracingSetup();
  const system = new ActorSystem({ scheduler: { sliceMs: timing.sliceMs } });
  const options = serverTransportOptions(tracer, contextManager, mode !== 'untraced', timing.tailMs);
  if (mode === 'unsampled_tail_off') options.tail = { thresholdMs: 0 };
  wired(system, new Transport(system, options));
  let seen = 0;
  let target = 0;
  let resolve: () => void = () => {};
  const ref = system.spawn<null, { cast: number }>({
    kind: 'counter',
    init: () => null,
    handleCast: () => {
      if (++seen === target) resolve();
    },
  });
  const unsampled = trace.setSpan(ROOT_CONTEXT, trace.wrapSpanContext({ traceId: '1'.repeat(32), spanId: '2'.repeat(16), traceFlags: 0 }));
  let size = 0;
  const send = () => {
    for (let i = 0; i < size; i++) ref.cast(i);
  };
  const inTrace = mode === 'unsampled' || mode === 'unsampled_tail_off';
  return {
    batch(n: number): Promise<void> {
      const done = new Promise<void>((r) => (resolve = r));
      target += n;
      size = n;
      if (inTrace) context.with(unsampled, send);
      else send();
      return done;
    },
  };
}

/**
 * How a broadcast is wired. `untraced`: the Transport switched off (tracing
 * disabled); `unsampled`: on, the broadcast made in no trace (as an unsampled
 * post's); `sampled`: on, inside a sampled root, fanout sampling keeping about
 * 10 deliveries; `naive`: as sampled, every delivery kept.
 */
export type FanoutMode = 'untraced' | 'unsampled' | 'sampled' | 'naive';

/**
 * Broadcast to `size` session actors wired as the server, tail capture at the
 * server's default threshold (`tail` true; `timing.tailMs` overrides it) or
 * off (0, as GUILDHALL_SLOW_DELIVERY_MS=0). `broadcast(i)` resolves when
 * every delivery is handled and the spans are flushed, with the ns from the
 * broadcast's start to its last delivery handled (the sampled root is made
 * before, the flush after: neither is the fanout's).
 */
export function fanoutRig(size: number, mode: FanoutMode, tail: boolean, timing: RigTiming = {}): { broadcast(i: number): Promise<number> } {
  const { provider, tracer, contextManager } = tracingSetup();
  const system = new ActorSystem({ scheduler: { sliceMs: timing.sliceMs } });
  const options = { ...serverTransportOptions(tracer, contextManager, mode !== 'untraced', timing.tailMs), sampler: new FanoutSampler({ k: mode === 'naive' ? size * 10 : 10 }) };
  if (!tail) options.tail = { thresholdMs: 0 };
  wired(system, new Transport(system, options));
  let seen = 0;
  let resolve: () => void = () => {};
  const refs = Array.from({ length: size }, () =>
    system.spawn<null, { cast: number }>({
      kind: 'session',
      init: () => null,
      handleCast: () => {
        if (++seen % size === 0) resolve();
      },
    }),
  );
  const sampled = mode === 'sampled' || mode === 'naive';
  return {
    async broadcast(i: number): Promise<number> {
      const all = new Promise<void>((r) => (resolve = r));
      const root = sampled ? tracer.startSpan('broadcast') : undefined;
      const t0 = process.hrtime.bigint();
      if (root === undefined) system.broadcast(refs, i);
      else context.with(trace.setSpan(ROOT_CONTEXT, root), () => system.broadcast(refs, i));
      await all;
      const ns = Number(process.hrtime.bigint() - t0);
      root?.end();
      // Export at a point the code decides, not at a timer's: the same work in every run.
      await provider.forceFlush();
      return ns;
    },
  };
}
