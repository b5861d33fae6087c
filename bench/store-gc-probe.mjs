// Preloaded (--import) into the server bench:store-gc starts, which runs with an
// IPC channel: it answers, without collecting anything itself,
// - `heap`: V8's heap space statistics now;
// - `gc-start` / `gc-stop`: every collection between the two, with each
//   space's size before and after it (v8.GCProfiler), so the tool can count
//   what was allocated between collections and what each scavenge promoted;
// - `sample-start` / `sample-stop`: V8's sampling heap profiler over the
//   window, keeping objects a major GC collected (includeObjectsCollectedByMajorGC)
//   and dropping those a scavenge collected: what was sampled is what
//   outlived the young generation (promoted, or still alive at the stop), by
//   the function that allocated it (`all`: keeping what scavenges freed too, i.e. every allocation). A scavenge runs just before the stop, so the young generation's garbage
//   of the last moments is not reported as if it had outlived anything. (A mark-compact inside the window
//   still counts the young garbage it frees as "collected by a major GC": see the README.)
// - `snapshot`: v8.writeHeapSnapshot to the given path (who holds what: bench/heap-snapshot-summary.ts).
// The server's own code is not changed. Plain JS: it loads before tsx.
//   not meant to be run by hand.
import { Session } from 'node:inspector';
import { GCProfiler, getHeapSpaceStatistics, setFlagsFromString, writeHeapSnapshot } from 'node:v8';
import { runInNewContext } from 'node:vm';

// V8's gc(), without --expose-gc on the server's command line: for the scavenge before a sample stops.
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc');

let profiler;
let session;

function spaces() {
  const out = {};
  for (const s of getHeapSpaceStatistics()) out[s.space_name] = { size: s.space_size, used: s.space_used_size };
  return out;
}

/**
 * Sampled bytes by allocating function (self), and by the nearest frame in the server's own code (inclusive);
 * `sizes`: for the first functions of `self` (or those whose label has `sizesOf`), how many samples had each object size (which objects they were:
 * a function's inlined callees and the objects its `new` makes are its own here).
 */
function summarise(profile, top, sizesOf) {
  const self = new Map();
  const labelOf = new Map();
  const ours = new Map();
  let total = 0;
  const label = (f) => `${f.functionName || '(anonymous)'} ${f.url.replace(/^.*\/(node_modules\/)/, 'nm:').replace(/^.*\/(server|actors|tracing|bench)\//, '$1/')}:${f.lineNumber + 1}`;
  const walk = (node, stack) => {
    const here = [...stack, node.callFrame];
    labelOf.set(node.id, label(node.callFrame));
    if (node.selfSize > 0) {
      total += node.selfSize;
      const l = label(node.callFrame);
      self.set(l, (self.get(l) ?? 0) + node.selfSize);
      const mine = [...here].reverse().find((f) => /\/(server|actors)\//.test(f.url) && !f.url.includes('node_modules'));
      const o = mine ? label(mine) : '(no frame of ours)';
      ours.set(o, (ours.get(o) ?? 0) + node.selfSize);
    }
    for (const c of node.children) walk(c, here);
  };
  walk(profile.head, []);
  const sorted = (m) => [...m].sort((a, b) => b[1] - a[1]).slice(0, top);
  const first = sizesOf ? [...self.keys()].filter((l) => l.includes(sizesOf)) : sorted(self).slice(0, 6).map(([l]) => l);
  const sizes = Object.fromEntries(first.map((l) => [l, new Map()]));
  for (const { size, nodeId } of profile.samples ?? []) {
    const bySize = sizes[labelOf.get(nodeId)];
    if (bySize !== undefined) bySize.set(size, (bySize.get(size) ?? 0) + 1);
  }
  for (const l of first) sizes[l] = [...sizes[l]].sort((a, b) => b[1] - a[1]).slice(0, 8);
  return { total, self: sorted(self), ours: sorted(ours), sizes };
}

const reply = (ev, value) => process.send({ ev, ...value });
const fail = (err) => process.send({ ev: 'error', error: String(err?.stack ?? err) });

if (process.send) {
  process.on('message', (msg) => {
    try {
      switch (msg?.cmd) {
        case 'heap':
          return reply('heap', { spaces: spaces() });
        case 'gc-start':
          profiler = new GCProfiler();
          profiler.start();
          return reply('gc-started', {});
        case 'gc-stop': {
          const data = profiler?.stop();
          profiler = undefined;
          return reply('gc-stopped', { data, spaces: spaces() });
        }
        case 'snapshot':
          return reply('snapshot-written', { path: writeHeapSnapshot(msg.path) });
        case 'sample-start':
          session = new Session();
          session.connect();
          session.post('HeapProfiler.enable');
          session.post('HeapProfiler.startSampling', { samplingInterval: msg.interval ?? 4096, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: msg.all === true }, (err) =>
            err ? fail(err) : reply('sample-started', {}),
          );
          return;
        case 'sample-stop':
          gc({ type: 'minor' });
          session.post('HeapProfiler.stopSampling', (err, result) => {
            if (err) return fail(err);
            session.disconnect();
            session = undefined;
            reply('sample-stopped', summarise(result.profile, msg.top ?? 25, msg.sizesOf));
          });
          return;
      }
    } catch (err) {
      fail(err);
    }
  });
  // The channel must not keep a stopping server alive.
  process.channel?.unref();
}
