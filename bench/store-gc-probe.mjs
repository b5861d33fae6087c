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
//   the function that allocated it.
// The server's own code is not changed. Plain JS: it loads before tsx.
//   not meant to be run by hand.
import { Session } from 'node:inspector';
import { GCProfiler, getHeapSpaceStatistics } from 'node:v8';

let profiler;
let session;

function spaces() {
  const out = {};
  for (const s of getHeapSpaceStatistics()) out[s.space_name] = { size: s.space_size, used: s.space_used_size };
  return out;
}

/** Sampled bytes by allocating function (self), and by the nearest frame in the server's own code (inclusive). */
function summarise(profile, top) {
  const self = new Map();
  const ours = new Map();
  let total = 0;
  const label = (f) => `${f.functionName || '(anonymous)'} ${f.url.replace(/^.*\/(node_modules\/)/, 'nm:').replace(/^.*\/(server|actors|tracing|bench)\//, '$1/')}:${f.lineNumber + 1}`;
  const walk = (node, stack) => {
    const here = [...stack, node.callFrame];
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
  return { total, self: sorted(self), ours: sorted(ours) };
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
        case 'sample-start':
          session = new Session();
          session.connect();
          session.post('HeapProfiler.enable');
          session.post('HeapProfiler.startSampling', { samplingInterval: msg.interval ?? 4096, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: false }, (err) =>
            err ? fail(err) : reply('sample-started', {}),
          );
          return;
        case 'sample-stop':
          session.post('HeapProfiler.stopSampling', (err, result) => {
            if (err) return fail(err);
            session.disconnect();
            session = undefined;
            reply('sample-stopped', summarise(result.profile, msg.top ?? 25));
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
