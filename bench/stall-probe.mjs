// Preloaded (--import) into a server to say when its event loop stalled and
// why: every turn that held the loop past STALL_PROBE_MS (default 5) and every
// GC pause (perf_hooks 'gc' entries), with wall-clock times, appended once a
// second to $STALL_PROBE_DIR/stalls-<pid>.jsonl. bench:store --timeline lines
// them up with each paced post's latency. Plain JS: it loads before tsx.
import { appendFileSync } from 'node:fs';
import { PerformanceObserver, performance } from 'node:perf_hooks';

const dir = process.env.STALL_PROBE_DIR;
if (dir) {
  const file = `${dir}/stalls-${process.pid}.jsonl`;
  const threshold = Number(process.env.STALL_PROBE_MS ?? 5);
  const TICK = 2;
  const origin = performance.timeOrigin;
  let lines = [];
  let last = performance.now();
  setInterval(() => {
    const t = performance.now();
    const blocked = t - last - TICK;
    if (blocked >= threshold) lines.push(JSON.stringify({ type: 'loop', at: origin + last + TICK, ms: +blocked.toFixed(2) }));
    last = t;
  }, TICK).unref();
  // perf_hooks' NODE_PERFORMANCE_GC_* kinds (V8's GCType bits).
  const KINDS = { 1: 'scavenge', 2: 'minor-mark-compact', 4: 'mark-compact', 8: 'incremental', 16: 'weak-callbacks' };
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      lines.push(JSON.stringify({ type: 'gc', at: origin + e.startTime, ms: +e.duration.toFixed(2), kind: KINDS[e.detail?.kind] ?? e.detail?.kind }));
    }
  }).observe({ entryTypes: ['gc'] });
  const flush = () => {
    if (lines.length === 0) return;
    appendFileSync(file, lines.join('\n') + '\n');
    lines = [];
  };
  setInterval(flush, 1000).unref();
  process.on('exit', flush);
}
