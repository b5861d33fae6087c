// What tail capture adds per sampled broadcast when nothing is slow: the one
// WeakMap entry Transport.fanout makes for it (TailCapture.noteBroadcast), the
// only code that differs between tail capture on and off on a path where
// nothing is slow (the per-delivery comparisons run either way). Counted as
// the difference of two whole runs under callgrind, with and without --on,
// over the 2 x N broadcasts each makes (a warm-up pass and a second pass), the
// GC of the WeakMap's entries included:
//   valgrind --tool=callgrind --callgrind-out-file=/tmp/note-off.%p node --expose-gc --import tsx bench/tail-note-count.ts --n 200000
//   valgrind --tool=callgrind --callgrind-out-file=/tmp/note-on.%p node --expose-gc --import tsx bench/tail-note-count.ts --on --n 200000
//   (on total - off total) / 400000 = instructions per sampled broadcast
import { TailCapture } from '../tracing/index.js';

const on = process.argv.includes('--on');
const at = process.argv.indexOf('--n');
const n = at >= 0 ? Number(process.argv[at + 1]) : 200_000;
// noteBroadcast reads neither the system nor the tracer.
const tail = new TailCapture({} as never, {} as never, () => true, { thresholdMs: 60_000 });
const parent = { traceId: '0af7651916cd43dd8448eb211c80319c', spanId: 'b7ad6b7169203331', traceFlags: 1 };
const attributes = { 'guildhall.guild.id': '1' };

function run(count: number, note: boolean): number {
  let sink = 0;
  for (let i = 0; i < count; i++) {
    // One message object per broadcast, as the guild makes.
    const message = { type: 'dispatch', event: { i } };
    if (note) tail.noteBroadcast(message, parent, i, 1000, attributes);
    sink += message.event.i & 1;
  }
  return sink;
}
const s = run(n, on) + run(n, on);
(globalThis as { gc?: () => void }).gc?.();
process.stdout.write(`${on ? 'on' : 'off'} ${n} ${s}\n`);
