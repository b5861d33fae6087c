// Sums bench/callgrind-jit.ts's listing into components of the tracing cost
// (the OTLP encoder, the Transport, the tracer, property ICs, byte copies...)
// and prints the total less V8's compilers and GC: the part of a callgrind
// window that does not depend on when V8 chose to compile or collect, which
// is what compares two builds of the same work (bench/README.md, "Tracing
// cost"). Without a perf map (an empty file) JIT code is one group, and the
// compiler and GC split still holds.
//
//   node --import tsx bench/callgrind-jit.ts DUMP MAP --top 1000000 [--per N] | node --import tsx bench/callgrind-components.ts
import { readFileSync } from 'node:fs';

/** First match wins: compilers and GC before the JIT groups, the catch-alls last. */
const GROUPS: [string, RegExp][] = [
  [
    'V8 compilers',
    /v8::internal::(compiler::|Compiler::|maglev::|baseline::|interpreter::|Parser|PreParser|Deoptimizer|TranslatedState|OptimizingCompileDispatcher|Scanner|AstValueFactory|BytecodeArray|Zone)/,
  ],
  [
    'V8 GC',
    /v8::internal::.*(Marking|Scaveng|Sweep|Evacuat|IterateObjectCache|MemoryChunk|Heap::|HeapObject::SizeFromMap|RootScavenge|RecordMigrated|MemoryAllocator|LargeObject|PagedSpace|NewSpace|SemiSpace|GlobalHandles|Worklist|Remembered|SlotSet|TypedSlot)|heap::base|cppgc|MemoryChunkData|ActiveSystemPages/,
  ],
  ['encoder (JIT)', /JIT .*(otlp-protobuf|protobuf-writer)\.ts/],
  ['transport and context (JIT)', /JIT .*(transport|lean-context|context-manager|traceparent)\.ts|JIT .*context\/context\.js|JIT .* node:async_hooks/],
  ['tracer and spans (JIT)', /JIT .*(lean-tracer|lean-span|conventions|process-span|batch-processor|fanout-sampler|tail-capture)\.ts|JIT .*@opentelemetry/],
  [
    'property ICs and map transitions',
    /Builtins_(LoadIC|StoreIC|KeyedLoadIC|KeyedStoreIC|LoadGlobalIC|StoreGlobalIC|DefineKeyedOwnIC|DefineNamedOwnIC|GetProperty|SetProperty|KeyedHasIC)|MigrateToMap|LookupIterator|PropertyDescriptor|Map::|TransitionsAccessor|JSObject::/,
  ],
  ['byte copies', /TypedArrayPrototypeSet|memcpy|memmove/],
  ['other builtins', /Builtins_/],
  ['other JIT (actors, node)', /^JIT /],
  ['other native', /./],
];

const sums = new Map<string, number>(GROUPS.map(([name]) => [name, 0]));
let all = 0;
for (const line of readFileSync(0, 'utf8').split('\n')) {
  const m = /^\s*(-?[\d.]+)\s+(.*)$/.exec(line);
  if (m === null) continue;
  const count = Number(m[1]);
  all += count;
  const group = GROUPS.find(([, pattern]) => pattern.test(m[2]!))![0];
  sums.set(group, sums.get(group)! + count);
}
const row = (count: number, name: string) => `${Math.round(count).toLocaleString('en-US').padStart(12)}  ${name}\n`;
let out = row(all, 'all');
for (const [name, count] of sums) out += row(count, name);
out += row(all - sums.get('V8 compilers')! - sums.get('V8 GC')!, 'all but V8 compilers and GC');
process.stdout.write(out);
