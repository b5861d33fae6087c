// What encoding a batch of spans for OTLP/gRPC costs: OpenTelemetry's
// serializer (@opentelemetry/otlp-transformer) against ours
// (tracing/otlp-protobuf.ts), on the spans a sampled broadcast really makes
// (the Transport's fanout to actors under a sampled root, K = 10), in batches
// of the size the server exports (512). Rounds alternate the two encoders in
// one process; the ratio is the median of the per-round ratios.
//   npm run bench:otlp-encode -- [--rounds 40] [--batch 512]
import { ROOT_CONTEXT, SpanKind, context, trace } from '@opentelemetry/api';
import { ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { z } from 'zod';
import { ActorSystem, type Behaviour } from '../actors/index.js';
import { ScopedContextManager } from '../tracing/context-manager.js';
import { FanoutSampler } from '../tracing/fanout-sampler.js';
import { encodeTraceExportRequest } from '../tracing/otlp-protobuf.js';
import { Transport } from '../tracing/transport.js';
import { parseFlags } from './flags.js';
import { rounded } from './summary.js';

const USAGE = 'usage: npm run bench:otlp-encode -- [--rounds N (default 40)] [--batch N (default 512)]';
const flags = parseFlags(
  process.argv.slice(2),
  { rounds: { type: 'string' }, batch: { type: 'string' } },
  z.object({ rounds: z.coerce.number().int().min(3).max(10_000).default(40), batch: z.coerce.number().int().min(1).max(8192).default(512) }),
  (message) => {
    console.error(`${message}\n${USAGE}`);
    process.exit(2);
  },
);

/** Spans of sampled broadcasts to 1,000 actors, as the Transport makes them, until there are `count`. */
async function broadcastSpans(count: number): Promise<ReadableSpan[]> {
  const contextManager = new ScopedContextManager();
  context.setGlobalContextManager(contextManager);
  const memory = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ 'service.name': 'guildhall', 'service.instance.id': '2f1c0c7e-bench' }),
    spanProcessors: [new SimpleSpanProcessor(memory)],
  });
  const tracer = provider.getTracer('guildhall');
  const system = new ActorSystem();
  new Transport(system, { tracer, contextManager, sampler: new FanoutSampler({ k: 10 }) }).install();
  const session: Behaviour<number, { cast: { type: 'dispatch' } }> = { kind: 'session', init: () => 0, handleCast: () => {} };
  const refs = Array.from({ length: 1000 }, () => system.spawn(session));
  while (memory.getFinishedSpans().length < count) {
    const root = tracer.startSpan('POST /api/v10/channels/{channel.id}/messages', { kind: SpanKind.SERVER });
    context.with(trace.setSpan(ROOT_CONTEXT, root), () => system.broadcast(refs, { type: 'dispatch' }, { attributes: { 'guildhall.guild.id': '1500000000000000003' } }));
    root.end();
    await new Promise((r) => setImmediate(r));
  }
  system.shutdown();
  return memory.getFinishedSpans().slice(0, count) as ReadableSpan[];
}

/** CPU microseconds per span for `reps` encodings of `spans`. */
function time(encode: (s: ReadableSpan[]) => Uint8Array, spans: ReadableSpan[], reps: number): number {
  const start = process.cpuUsage();
  let bytes = 0;
  for (let i = 0; i < reps; i++) bytes += encode(spans).length;
  const used = process.cpuUsage(start);
  if (bytes === 0) throw new Error('nothing encoded');
  return (used.user + used.system) / (reps * spans.length);
}

const spans = await broadcastSpans(flags.batch);
const reference = (s: ReadableSpan[]) => ProtobufTraceSerializer.serializeRequest(s)!;
if (!Buffer.from(reference(spans)).equals(Buffer.from(encodeTraceExportRequest(spans)))) throw new Error('the two encoders disagree');
const bytesPerSpan = encodeTraceExportRequest(spans).length / spans.length;
// Enough encodings per timing that CPU accounting (1 µs units) is exact to 0.1 %.
const reps = Math.max(5, Math.ceil(200_000 / spans.length));
for (let i = 0; i < 3; i++) {
  time(reference, spans, reps);
  time(encodeTraceExportRequest, spans, reps);
}

const ref: number[] = [];
const ours: number[] = [];
const ratios: number[] = [];
for (let r = 0; r < flags.rounds; r++) {
  // Alternate which goes first, so a drift of the machine favours neither.
  const a = r % 2 === 0 ? time(reference, spans, reps) : 0;
  const b = time(encodeTraceExportRequest, spans, reps);
  const c = r % 2 === 0 ? a : time(reference, spans, reps);
  ref.push(c);
  ours.push(b);
  ratios.push(c / b);
  console.error(`[otlp-encode] round ${r + 1}: sdk ${c.toFixed(2)} µs/span, ours ${b.toFixed(2)} µs/span, ${(c / b).toFixed(2)}x`);
}
const summary = (xs: number[]) => rounded(xs, 3);
console.log(
  JSON.stringify({
    node: process.version,
    batch: spans.length,
    bytes_per_span: +bytesPerSpan.toFixed(1),
    rounds: flags.rounds,
    us_per_span: { sdk: summary(ref), ours: summary(ours) },
    sdk_over_ours: summary(ratios),
  }),
);
