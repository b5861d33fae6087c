// Micro-benchmarks of the actor runtime and the Transport. Cases run
// interleaved, several rounds, in one process; figures are medians. The last
// line printed is one JSON object with the raw figures and the ratios.
//
//   npm run bench:actors               (ROUNDS=7 by default; ROUNDS=3 QUICK=1 for a smoke run)
import { ROOT_CONTEXT, context, defaultTextMapGetter, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { AlwaysOnSampler, BasicTracerProvider, BatchSpanProcessor, type ReadableSpan, type SpanExporter } from '@opentelemetry/sdk-trace-base';
import { ActorSystem } from '../actors/index.js';
import { FanoutSampler } from '../tracing/fanout-sampler.js';
import { isSampledTraceparent } from '../tracing/traceparent.js';
import { Transport } from '../tracing/transport.js';

const QUICK = process.env.QUICK === '1';
const ROUNDS = Number(process.env.ROUNDS ?? (QUICK ? 3 : 7));
const MESSAGES = QUICK ? 50_000 : 200_000; // per case per round
const FANOUT = 10_000;
const FANOUTS_PER_ROUND = QUICK ? 10 : 30; // per mode per round
const PARSES = QUICK ? 200_000 : 2_000_000;

context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());

/** Exports nowhere but counts, so span creation and batching are paid and export I/O is not. */
class CountingExporter implements SpanExporter {
  exported = 0;
  export(spans: ReadableSpan[], done: (r: { code: number }) => void): void {
    this.exported += spans.length;
    done({ code: 0 });
  }
  async shutdown(): Promise<void> {}
}

const exporter = new CountingExporter();
const provider = new BasicTracerProvider({
  sampler: new FanoutSampler({ delegate: new AlwaysOnSampler() }),
  spanProcessors: [new BatchSpanProcessor(exporter, { maxQueueSize: 65_536, maxExportBatchSize: 4096, scheduledDelayMillis: 50 })],
});
const tracer = provider.getTracer('bench');

const gc = () => (globalThis as { gc?: () => void }).gc?.();

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

type CountP = { cast: number };

/** A system with one counting actor; `until(n)` resolves once n messages were handled in all. */
function counterSystem(traced: boolean) {
  const system = new ActorSystem();
  if (traced) new Transport(system, { tracer }).install();
  let seen = 0;
  let target = 0;
  let resolve: () => void = () => {};
  const ref = system.spawn<null, CountP>({
    kind: 'counter',
    init: () => null,
    handleCast: () => {
      if (++seen === target) resolve();
    },
  });
  const until = (n: number) =>
    new Promise<void>((r) => {
      target = n;
      if (seen >= n) r();
      else resolve = r;
    });
  return { system, ref, until, sent: 0 };
}

const unsampledSpan = trace.wrapSpanContext({ traceId: '1'.repeat(32), spanId: '2'.repeat(16), traceFlags: 0 });
const unsampledContext = trace.setSpan(ROOT_CONTEXT, unsampledSpan);
const BATCH = 1_000;

/**
 * Send -> handle, per message: batches of BATCH casts, each awaited until
 * handled, alternating between an untraced system and a traced one whose
 * messages belong to an unsampled trace. Fine-grained alternation cancels drift.
 */
async function sendHandle(): Promise<{ untraced: number; unsampled: number }> {
  const cases = { untraced: counterSystem(false), unsampled: counterSystem(true) };
  const samples = { untraced: [] as number[], unsampled: [] as number[] };
  await new Promise((r) => setImmediate(r));
  for (let b = 0; b < (2 * MESSAGES) / BATCH; b++) {
    const name = b % 2 === 0 ? 'untraced' : 'unsampled';
    const c = cases[name];
    const send = () => {
      for (let i = 0; i < BATCH; i++) c.ref.cast(i);
    };
    gc();
    const t0 = process.hrtime.bigint();
    if (name === 'unsampled') context.with(unsampledContext, send);
    else send();
    c.sent += BATCH;
    await c.until(c.sent);
    samples[name].push(Number(process.hrtime.bigint() - t0) / BATCH);
  }
  cases.untraced.system.shutdown();
  cases.unsampled.system.shutdown();
  return { untraced: median(samples.untraced), unsampled: median(samples.unsampled) };
}

type FanoutMode = 'untraced' | 'sampled' | 'naive';

/**
 * One broadcast to FANOUT actors, until every delivery is handled, per
 * delivery (wall time). The modes alternate broadcast by broadcast over the same actors:
 * untraced (no Transport, as with OTEL_SDK_DISABLED), sampled (sampled root,
 * fanout sampling with K = 10) and naive (every delivery traced and carrying context).
 */
async function fanout(): Promise<Record<FanoutMode, number>> {
  const system = new ActorSystem();
  const transports = {
    untraced: new Transport(system, { tracer, enabled: false }),
    sampled: new Transport(system, { tracer, sampler: new FanoutSampler({ k: 10 }) }),
    naive: new Transport(system, { tracer, sampler: new FanoutSampler({ k: FANOUT * 10 }) }),
  };
  let seen = 0;
  let resolve: () => void = () => {};
  const refs = Array.from({ length: FANOUT }, () =>
    system.spawn<null, CountP>({
      kind: 'session',
      init: () => null,
      handleCast: () => {
        if (++seen % FANOUT === 0) resolve();
      },
    }),
  );
  await new Promise((r) => setTimeout(r, 5));
  const samples: Record<FanoutMode, number[]> = { untraced: [], sampled: [], naive: [] };
  const modes: FanoutMode[] = ['untraced', 'sampled', 'naive'];
  for (let b = 0; b < FANOUTS_PER_ROUND * modes.length; b++) {
    const mode = modes[b % modes.length]!;
    const transport = transports[mode];
    if (mode !== 'untraced') transport.install();
    const all = new Promise<void>((r) => (resolve = r));
    // Collect the previous broadcast's garbage (naive makes a lot) outside the timing.
    gc();
    const t0 = process.hrtime.bigint();
    if (mode === 'untraced') {
      transport.fanout(refs, b);
    } else {
      // The production shape: a sampled ingress span, then the broadcast.
      const root = tracer.startSpan('broadcast');
      context.with(trace.setSpan(ROOT_CONTEXT, root), () => transport.fanout(refs, b));
      root.end();
    }
    await all;
    samples[mode].push(Number(process.hrtime.bigint() - t0) / FANOUT);
    // Export this broadcast's spans before the next one starts, outside the
    // timing, so no mode pays for another's export work (naive makes 10,000
    // spans). What export itself costs is in the server benchmark (npm run bench).
    await provider.forceFlush();
    transport.remove();
  }
  system.shutdown();
  return { untraced: median(samples.untraced), sampled: median(samples.sampled), naive: median(samples.naive) };
}

function parse(mode: 'propagator' | 'fastpath'): number {
  const header = `00-${'4bf92f3577b34da6a3ce929d0e0e4736'}-${'00f067aa0ba902b7'}-00`;
  const carrier = { traceparent: header };
  const propagator = new W3CTraceContextPropagator();
  let sampled = 0;
  const t0 = process.hrtime.bigint();
  if (mode === 'propagator') {
    for (let i = 0; i < PARSES; i++) {
      const ctx = propagator.extract(ROOT_CONTEXT, carrier, defaultTextMapGetter);
      if ((trace.getSpanContext(ctx)?.traceFlags ?? 0) & 1) sampled++;
    }
  } else {
    for (let i = 0; i < PARSES; i++) if (isSampledTraceparent(carrier.traceparent)) sampled++;
  }
  const ns = Number(process.hrtime.bigint() - t0) / PARSES;
  if (sampled !== 0) throw new Error('unsampled input read as sampled');
  return ns;
}


async function main() {
  const samples: Record<string, number[]> = {};
  const record = (name: string, ns: number) => (samples[name] ??= []).push(ns);
  // Warm-up round, discarded.
  await sendHandle();
  await fanout();
  parse('propagator');
  parse('fastpath');
  for (let round = 0; round < ROUNDS; round++) {
    gc();
    const sh = await sendHandle();
    record('send_handle_untraced', sh.untraced);
    record('send_handle_unsampled', sh.unsampled);
    gc();
    const fo = await fanout();
    for (const [mode, ns] of Object.entries(fo)) record(`fanout_${mode}`, ns);
    const parseOrder = round % 2 === 0 ? (['propagator', 'fastpath'] as const) : (['fastpath', 'propagator'] as const);
    for (const m of parseOrder) record(`extract_${m}`, parse(m));
    process.stderr.write(`round ${round + 1}/${ROUNDS} done\n`);
  }
  const ns: Record<string, { median: number; min: number; max: number; per_second: number }> = {};
  for (const [name, xs] of Object.entries(samples)) {
    const m = median(xs);
    ns[name] = { median: +m.toFixed(2), min: +Math.min(...xs).toFixed(2), max: +Math.max(...xs).toFixed(2), per_second: Math.round(1e9 / m) };
  }
  const r = (a: string, b: string) => +(ns[a]!.median / ns[b]!.median).toFixed(3);
  const result = {
    node: process.version,
    rounds: ROUNDS,
    messages_per_case: MESSAGES,
    fanout_size: FANOUT,
    fanouts_per_round: FANOUTS_PER_ROUND,
    ns_per_message: ns,
    spans_exported: exporter.exported,
    ratios: {
      unsampled_over_untraced: r('send_handle_unsampled', 'send_handle_untraced'),
      fanout_sampled_over_untraced: r('fanout_sampled', 'fanout_untraced'),
      naive_over_untraced: r('fanout_naive', 'fanout_untraced'),
      fastpath_speedup: r('extract_propagator', 'extract_fastpath'),
    },
    targets: { unsampled_over_untraced: '<= 1.05', fanout_sampled_over_untraced: '<= 1.05', fastpath_speedup: '>= 20' },
  };
  await provider.shutdown();
  console.log(JSON.stringify(result));
}

await main();
