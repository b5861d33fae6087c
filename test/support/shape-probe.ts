// Child process for test/tracing/shape-keeper.test.ts (run with
// --allow-natives-syntax --expose-gc): spans of the shapes a kept delivery
// makes are ended and encoded until the encoder is optimised, then sampled
// work stops, the spans are exported and dropped, and major collections run.
// Prints whether encodeSpan's optimised code survived. `--no-keeper` leaves
// the ShapeKeeper out, as the tracer was before it.
import { AlwaysOnSampler, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { ROOT_CONTEXT, type Span, SpanKind } from '@opentelemetry/api';
import { type ExportResult, ExportResultCode } from '@opentelemetry/core';
import { CountingBatchSpanProcessor } from '../../tracing/batch-processor.js';
import { DEFAULT_SPAN_LIMITS } from '../../tracing/lean-span.js';
import { LeanTracer } from '../../tracing/lean-tracer.js';
import { encodeSpan } from '../../tracing/otlp-protobuf.js';
import { ShapeKeeper } from '../../tracing/shape-keeper.js';

declare function gc(): void;
// V8 natives (--allow-natives-syntax), reached through Function so that tsx's transform leaves them alone.
const natives = new Function('f', 'return { status: %GetOptimizationStatus(f), optimize: () => %OptimizeFunctionOnNextCall(f), prepare: () => %PrepareFunctionForOptimization(f), never: () => %NeverOptimizeFunction(f) };') as (f: unknown) => { status: number; optimize(): void; prepare(): void; never(): void };
const OPTIMIZED = 1 << 4;

const exporter = { prepare: encodeSpan, export: (_items: unknown[], done: (r: ExportResult) => void) => done({ code: ExportResultCode.SUCCESS }), shutdown: () => Promise.resolve() };
const batch = new CountingBatchSpanProcessor({ exporter, scheduledDelayMillis: 60_000, maxQueueSize: 50_000 });
const processors = process.argv.includes('--no-keeper') ? [batch] : [batch, new ShapeKeeper()];
const tracer = new LeanTracer({ resource: resourceFromAttributes({ 'service.name': 'probe' }), scope: { name: 'probe', version: undefined, schemaUrl: undefined }, limits: DEFAULT_SPAN_LIMITS, processors, sampler: new AlwaysOnSampler() });

function delivery(i: number): void {
  // A kept delivery's shapes: start attributes, an attribute added at the end, an event with attributes copied key by key.
  const span = tracer.startSpanOwning('process session', { kind: SpanKind.CONSUMER, attributes: { 'messaging.system': 'guildhall', 'guildhall.actor.id': `s${i}`, 'guildhall.mailbox.wait_ms': i / 7 } }, ROOT_CONTEXT);
  span.addEvent('gateway.send', { 'gateway.seq': i, 'gateway.written': true });
  span.setAttribute('guildhall.handle_ms', i / 3);
  span.end();
}

for (let i = 0; i < 20_000; i++) delivery(i);
// encodeSpan is inlined into the processor's code; its own optimised code is what a call from a
// function that is never optimised runs, so that is what is made and looked at.
let last: unknown = tracer.startSpanOwning('process session', { kind: SpanKind.CONSUMER, attributes: { 'messaging.system': 'guildhall', 'guildhall.actor.id': 's', 'guildhall.mailbox.wait_ms': 0.5 } }, ROOT_CONTEXT);
(last as Span).addEvent('gateway.send', { 'gateway.seq': 1, 'gateway.written': true });
(last as Span).setAttribute('guildhall.handle_ms', 0.25);
(last as Span).end();
function encodeOnce(): void {
  encodeSpan(last as unknown as ReadableSpan);
}
natives(encodeOnce).never();
natives(encodeSpan).prepare();
encodeOnce();
natives(encodeSpan).optimize();
encodeOnce();
const before = (natives(encodeSpan).status & OPTIMIZED) !== 0;
last = undefined;
await batch.forceFlush();
for (let i = 0; i < 6; i++) gc();
const after = (natives(encodeSpan).status & OPTIMIZED) !== 0;
process.stdout.write(JSON.stringify({ before, after }) + '\n');
await batch.shutdown();
