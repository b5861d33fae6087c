// Preloaded (--import) into every server the benchmarks start (Guildhall,
// Socket.IO, the floors), which run with --expose-gc and an IPC channel: it
// answers "collect and report memory", "write a heap snapshot" and "export
// what the tracer has queued, then collect" (bench:sampling-ab: each half of
// its A/B pays for its own export, and the next starts from a collected
// heap), and "what collections ran since you were last asked" (gc-window).
// The server's own code is not changed.
//   not meant to be run by hand.
import { readFileSync } from 'node:fs';
import { GCProfiler, getHeapSpaceStatistics, getHeapStatistics, writeHeapSnapshot } from 'node:v8';

export type ProbeRequest = { cmd: 'measure' } | { cmd: 'snapshot'; path: string } | { cmd: 'settle'; gc: boolean } | { cmd: 'gc-window' };

/**
 * The collections since the last `gc-window` request (v8.GCProfiler: each
 * space's size before and after every collection): how many of each kind, the
 * main thread's pause they cost (V8's own figure, in µs), and what scavenges
 * left: bytes still young after them (survived) and moved to the old
 * generation (promoted).
 */
export interface GcWindow {
  scavenges: number;
  scavengeUs: number;
  survivedBytes: number;
  promotedBytes: number;
  /** Mark-compacts (full collections), and their pause. */
  majors: number;
  majorUs: number;
}

interface ProfiledGc {
  gcType: string;
  cost: number;
  beforeGC: { heapSpaceStatistics: { spaceName: string; spaceUsedSize: number }[] };
  afterGC: { heapSpaceStatistics: { spaceName: string; spaceUsedSize: number }[] };
}

const OLD_SPACES = new Set(['old_space', 'code_space', 'large_object_space', 'code_large_object_space', 'trusted_space', 'trusted_large_object_space']);
let profiler: GCProfiler | undefined;

function gcWindow(): GcWindow {
  const record = (profiler?.stop() as { statistics: ProfiledGc[] } | undefined)?.statistics ?? [];
  profiler = new GCProfiler();
  profiler.start();
  const used = (spaces: ProfiledGc['afterGC']['heapSpaceStatistics'], which: (name: string) => boolean) =>
    spaces.reduce((n, sp) => (which(sp.spaceName) ? n + sp.spaceUsedSize : n), 0);
  const w: GcWindow = { scavenges: 0, scavengeUs: 0, survivedBytes: 0, promotedBytes: 0, majors: 0, majorUs: 0 };
  for (const g of record) {
    if (g.gcType === 'Scavenge' || g.gcType === 'MinorMarkSweep') {
      w.scavenges++;
      w.scavengeUs += g.cost;
      w.survivedBytes += used(g.afterGC.heapSpaceStatistics, (n) => n === 'new_space');
      w.promotedBytes += Math.max(0, used(g.afterGC.heapSpaceStatistics, (n) => OLD_SPACES.has(n)) - used(g.beforeGC.heapSpaceStatistics, (n) => OLD_SPACES.has(n)));
    } else if (g.gcType === 'MarkSweepCompact') {
      w.majors++;
      w.majorUs += g.cost;
    }
  }
  return w;
}

/**
 * Exports every span queued now (the registered provider's forceFlush: the
 * batch processor's queue, whatever its schedule), then, with `collect`, one
 * full collection. Resolves false when no SDK provider is registered.
 */
async function settle(collect: boolean): Promise<boolean> {
  const { trace } = await import('@opentelemetry/api');
  const proxy = trace.getTracerProvider() as { getDelegate?: () => { forceFlush?: () => Promise<void> } };
  const provider = proxy.getDelegate?.();
  const flushed = typeof provider?.forceFlush === 'function';
  if (flushed) await provider.forceFlush!();
  if (collect) {
    if (!gc) throw new Error('the server runs without --expose-gc');
    gc();
  }
  return flushed;
}

/** One reading after two collections, in bytes. */
export interface MemoryReading {
  rss: number;
  /** RSS of anonymous pages (the heaps, malloc, stacks) and of file pages (the binary's code and data), from /proc/self/status. */
  rssAnon: number;
  rssFile: number;
  /** RSS of the `[heap]` mapping: glibc's main malloc arena (the main thread's native objects, and what fragmentation keeps). */
  rssMainArena: number;
  heapUsed: number;
  heapTotal: number;
  /** V8 heap pages resident (all spaces). */
  heapPhysical: number;
  /** Of which the young generation's (two semi-spaces: sized by allocation rate, not by what is live). */
  newSpacePhysical: number;
  external: number;
  arrayBuffers: number;
  /** What V8 itself has malloc'd (outside its heap pages). */
  v8Malloced: number;
}

const gc = (globalThis as { gc?: () => void }).gc;

function statusKib(status: string, field: string): number {
  const m = new RegExp(`^${field}:\\s+(\\d+)\\s+kB`, 'm').exec(status);
  return m ? Number(m[1]) * 1024 : NaN;
}

function mainArenaRss(): number {
  let smaps: string;
  try {
    smaps = readFileSync('/proc/self/smaps', 'utf8');
  } catch {
    return NaN;
  }
  const at = smaps.indexOf('[heap]');
  if (at < 0) return 0;
  const m = /^Rss:\s+(\d+)\s+kB/m.exec(smaps.slice(at));
  return m ? Number(m[1]) * 1024 : NaN;
}

function read(): MemoryReading {
  const m = process.memoryUsage();
  const h = getHeapStatistics();
  const young = getHeapSpaceStatistics().find((s) => s.space_name === 'new_space');
  let status = '';
  try {
    status = readFileSync('/proc/self/status', 'utf8');
  } catch {
    // not Linux: the two RSS parts are NaN
  }
  return {
    rss: m.rss,
    rssAnon: statusKib(status, 'RssAnon'),
    rssFile: statusKib(status, 'RssFile'),
    rssMainArena: mainArenaRss(),
    heapUsed: m.heapUsed,
    heapTotal: m.heapTotal,
    heapPhysical: h.total_physical_size,
    newSpacePhysical: young?.physical_space_size ?? NaN,
    external: m.external,
    arrayBuffers: m.arrayBuffers,
    v8Malloced: h.malloced_memory,
  };
}

if (process.send) {
  process.on('message', (msg: ProbeRequest | undefined) => {
    if (msg?.cmd === 'gc-window') {
      process.send!({ ev: 'gc-window', window: gcWindow() });
      return;
    }
    if (msg?.cmd === 'settle') {
      settle(msg.gc).then(
        (flushed) => process.send!({ ev: 'settled', flushed }),
        (err: unknown) => process.send!({ ev: 'error', error: String((err as Error)?.stack ?? err) }),
      );
      return;
    }
    if (msg?.cmd !== 'measure' && msg?.cmd !== 'snapshot') return;
    // Two collections a turn apart: weak callbacks and finalizers queued by the first free more in the second.
    setImmediate(() => {
      try {
        if (!gc) throw new Error('the server runs without --expose-gc');
        gc();
        setImmediate(() => {
          try {
            gc();
            if (msg.cmd === 'measure') process.send!({ ev: 'measured', reading: read() });
            else process.send!({ ev: 'snapshot', path: writeHeapSnapshot(msg.path) });
          } catch (err) {
            process.send!({ ev: 'error', error: String((err as Error)?.stack ?? err) });
          }
        });
      } catch (err) {
        process.send!({ ev: 'error', error: String((err as Error)?.stack ?? err) });
      }
    });
  });
  // The channel must not keep a stopping server alive.
  process.channel?.unref();
}
