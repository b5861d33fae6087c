// What the spans of a sampled broadcast cost, counted in one process: the
// tracer the server uses (startTracing, always_on, K = 10, spans encoded as
// they end by the OTLP exporter's prepare(); the gRPC send is not in it), the
// Transport wired as the server wires it, and a broadcast to --actors session
// actors (10: every delivery kept) made under a sampled SERVER span (the root,
// the fanout span and about ten CONSUMER spans with their event) or under an
// unsampled one (no span at all). Run under callgrind, counting only the two
// loops:
//
//   valgrind --tool=callgrind --instr-atstart=no node --import tsx bench/sampling-ab-spans.ts [--broadcasts 2000] [--actors 10]
//
// At --actors 1000 about 990 deliveries of a sampled broadcast are not kept:
// what a sampled broadcast adds there over what it adds at 10 actors, per
// delivery, is what an unkept delivery of a sampled broadcast pays (the spans
// exported per broadcast are printed, to correct for the kept count).
//
// it switches counting on and off itself (callgrind_control) and prints the
// instructions per sampled broadcast minus per unsampled one. Without valgrind
// it prints CPU time instead (noise on a loaded machine).
import { execFile } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { promisify } from 'node:util';
import { ROOT_CONTEXT, SpanKind, TraceFlags, context, trace } from '@opentelemetry/api';
import { z } from 'zod';
import { ActorSystem, type Behaviour } from '../actors/index.js';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { encodeSpan } from '../tracing/otlp-protobuf.js';
import { startTracing } from '../tracing/setup.js';
import { Transport } from '../tracing/transport.js';
import { parseFlags } from './flags.js';

const o = parseFlags(
  process.argv.slice(2),
  { broadcasts: { type: 'string', default: '2000' }, actors: { type: 'string', default: '10' }, out: { type: 'string' } },
  z.object({ broadcasts: z.coerce.number().int().min(10).max(1_000_000), actors: z.coerce.number().int().min(1).max(100_000), out: z.string().optional() }),
  (message) => {
    process.stderr.write(`bench:sampling-ab-spans: ${message}\n`);
    process.exit(2);
  },
);

const run = promisify(execFile);
const underValgrind = process.env.LD_PRELOAD?.includes('valgrind') || readFileSync('/proc/self/maps', 'utf8').includes('vgpreload');
/** Asks callgrind to switch counting (asynchronously: it answers between our instructions). */
async function callgrind(...args: string[]): Promise<void> {
  if (underValgrind) await run('callgrind_control', [...args, String(process.pid)]);
}

let exported = 0;
const tracing = startTracing({
  env: { OTEL_TRACES_SAMPLER: 'always_on' },
  fanoutK: 10,
  // The OTLP exporter's prepare() (each span encoded as it ends); the batch goes nowhere.
  exporter: {
    prepare: (span: ReadableSpan) => encodeSpan(span),
    export: (items: unknown[], done: (r: { code: number }) => void) => {
      exported += items.length;
      done({ code: 0 });
    },
    shutdown: async () => {},
  } as never,
});
// A slice long enough for a broadcast's deliveries to be handled in one, as natively (callgrind runs code some 50
// times slower, and would otherwise cut it into event-loop turns that only the slowdown makes).
const system = new ActorSystem({ scheduler: { sliceMs: 10_000 } });
new Transport(system, { tracer: tracing.tracer, sampler: tracing.sampler, contextManager: tracing.contextManager, tail: { thresholdMs: 60_000 } }).install();
let handled = 0;
let allHandled: () => void = () => {};
const session: Behaviour<number, { cast: { type: string } }> = {
  kind: 'session',
  init: () => 0,
  handleCast: () => {
    if (++handled === o.actors) allHandled();
  },
};
const refs = Array.from({ length: o.actors }, () => system.spawn(session));
const unsampledParent = trace.setSpanContext(ROOT_CONTEXT, { traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '00f067aa0ba902b7', traceFlags: TraceFlags.NONE, isRemote: true });

async function broadcasts(n: number, sampled: boolean): Promise<void> {
  for (let i = 0; i < n; i++) {
    const message = { type: 'MESSAGE_CREATE', i };
    handled = 0;
    const done = new Promise<void>((r) => (allHandled = r));
    if (sampled) {
      const root = tracing.tracer.startSpan('POST /api/v10/channels/{channel.id}/messages', { kind: SpanKind.SERVER, attributes: { 'http.request.method': 'POST', 'http.route': '/api/v10/channels/{channel.id}/messages' } });
      context.with(trace.setSpan(ROOT_CONTEXT, root), () => system.broadcast(refs, message, { attributes: { 'guildhall.guild.id': '1500000000000000003' } }));
      root.end();
    } else context.with(unsampledParent, () => system.broadcast(refs, message, { attributes: { 'guildhall.guild.id': '1500000000000000003' } }));
    // Every delivery handled before the next post (and before a window ends).
    await done;
  }
}

async function counted(sampled: boolean): Promise<number> {
  const cpu0 = process.cpuUsage();
  await callgrind('--zero');
  await callgrind('-i', 'on');
  await broadcasts(o.broadcasts, sampled);
  // The batch processor exports on its schedule: flushed here, each window's batch is exported inside it.
  await tracing.provider?.forceFlush();
  await callgrind('-i', 'off');
  const cpu = process.cpuUsage(cpu0);
  if (!underValgrind) return (cpu.user + cpu.system) * 1000;
  await callgrind('--dump');
  // The newest dump of this process: its totals line.
  const out = o.out ?? '.';
  const files = readdirSync(out)
    .filter((f) => f.startsWith(`callgrind.out.${process.pid}`) || f.includes(`.${process.pid}.`))
    .map((f) => `${out}/${f}`);
  const newest = files.sort((a, b) => Number(/\.(\d+)(-\d+)?$/.exec(a)?.[1] ?? 0) - Number(/\.(\d+)(-\d+)?$/.exec(b)?.[1] ?? 0)).at(-1);
  const m = newest === undefined ? null : /^totals:\s+(\d+)/m.exec(readFileSync(newest, 'utf8'));
  if (!m) throw new Error(`no callgrind dump found in ${out} (give --out, the folder of --callgrind-out-file)`);
  return Number(m[1]);
}

// Warm-up of both paths: JIT tiers count calls.
for (let i = 0; i < 3; i++) {
  await broadcasts(o.broadcasts, true);
  await broadcasts(o.broadcasts, false);
}
const results: Record<string, number[]> = { sampled: [], unsampled: [] };
const spans: Record<string, number[]> = { sampled: [], unsampled: [] };
for (let rep = 0; rep < 2; rep++) {
  for (const sampled of rep % 2 ? [false, true] : [true, false]) {
    const before = exported;
    const kind = sampled ? 'sampled' : 'unsampled';
    results[kind]!.push((await counted(sampled)) / o.broadcasts);
    spans[kind]!.push((exported - before) / o.broadcasts);
  }
}
const min = (xs: number[]) => Math.min(...xs);
const unit = underValgrind ? 'instructions' : 'ns of CPU';
process.stdout.write(
  `${JSON.stringify({
    unit,
    broadcasts: o.broadcasts,
    actors: o.actors,
    spans_per_broadcast: spans,
    per_broadcast: { sampled: results.sampled!.map(Math.round), unsampled: results.unsampled!.map(Math.round) },
    added_per_sampled_broadcast: Math.round(min(results.sampled!) - min(results.unsampled!)),
    exported,
    out: underValgrind ? dirname(o.out ?? '.') : undefined,
  })}\n`,
);
system.shutdown();
await tracing.shutdown(1_000);
process.exit(0);
