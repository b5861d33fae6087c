// Memory of a server under test, for memory per idle session (`npm run bench`'s
// connect storm and `npm run bench:session-memory`): readings after a GC from
// the probe preloaded into every server (bench/session-memory-probe.ts), the
// warm-up that comes before a baseline, and the per-session differences.
import { type ChildProcess } from 'node:child_process';
import { ClientDriver, type ServerUnderTest, askServer } from './children.js';
import type { MemoryReading } from './session-memory-probe.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Three collected readings a second apart, the one with the least RSS: the
 * allocator and V8 give pages back some time after a collection, so a single
 * reading can still hold memory already freed. (One whole reading, so that
 * its parts add up.)
 */
export async function settledMemory(child: ChildProcess): Promise<MemoryReading> {
  const readings: MemoryReading[] = [];
  for (let i = 0; i < 3; i++) {
    if (i > 0) await sleep(1_000);
    readings.push((await askServer<{ reading: MemoryReading }>(child, { cmd: 'measure' }, 'measured', 60_000)).reading);
  }
  return readings.reduce((a, b) => (b.rss < a.rss ? b : a));
}

/**
 * The first connections a server sees pay for one-time work (modules loaded
 * lazily, code compiled, pools and tables made): `sessions` sessions of a
 * separate client connect and close before a baseline is taken, so that this
 * is in the baseline and not charged to the sessions measured.
 */
export async function warmUp(server: ServerUnderTest, sessions = 20, connectRate = 100): Promise<void> {
  const driver = ClientDriver.start();
  try {
    await driver.setup(server, sessions, sessions, connectRate);
    await driver.connect();
  } finally {
    await driver.close();
  }
  // Closed with 1000: the sessions end (no resume window); give the server a moment to drop them.
  await sleep(1_000);
}

/** Per session between two readings with `n` more sessions, in bytes. */
export interface MemoryPerSession {
  rss: number;
  rssAnon: number;
  /** RSS less the young generation's resident pages (which follow the allocation rate, not the sessions). */
  rssLessYoung: number;
  heapUsed: number;
  external: number;
  /** V8 heap pages resident, old generation (all spaces but the young one). */
  heapOldPhysical: number;
  newSpacePhysical: number;
  /** RSS not in V8's heap pages nor in Buffers' memory: malloc (native objects, fragmentation), stacks, code. */
  rssOutsideHeap: number;
  /** RSS of glibc's main arena (`[heap]`). */
  rssMainArena: number;
}

export function perSession(before: MemoryReading, after: MemoryReading, n: number): MemoryPerSession {
  const d = (k: keyof MemoryReading) => (after[k] - before[k]) / n;
  return {
    rss: d('rss'),
    rssAnon: d('rssAnon'),
    rssLessYoung: d('rss') - d('newSpacePhysical'),
    heapUsed: d('heapUsed'),
    external: d('external'),
    heapOldPhysical: d('heapPhysical') - d('newSpacePhysical'),
    newSpacePhysical: d('newSpacePhysical'),
    rssOutsideHeap: d('rss') - d('heapPhysical') - d('arrayBuffers'),
    rssMainArena: d('rssMainArena'),
  };
}
