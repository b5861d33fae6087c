// Two V8 garbage-collector settings the server makes at start (V8 reads both
// when it decides, so setting them before the server runs takes effect):
//
// - Allocation-site pretenuring off. V8 allocates straight into the old
//   generation from sites whose objects survived scavenges; under a burst of
//   posts (a queue of writes waiting for a commit) the sites of a post's
//   in-flight objects (the call, the write, the continuation) qualify, and
//   stay so when the burst ends. Each post's objects then die in the old
//   generation, where only a major collection frees them, and while dead
//   they keep their young children alive across scavenges, so those are
//   promoted too. Counted (`npm run bench:store-gc -- --engine postgres`,
//   bench/README.md "Major collections and the paced ack p99"): the old
//   generation grew 2.9 KB a post with it and 0.34 KB without.
// - A fixed old-generation growth step. After each mark-compact V8 sets the
//   next limit at the live size times a factor it derives from how fast it
//   collects against how fast old objects are made; for a chat server's
//   steady trickle (every message's frame stays in the sessions' replay
//   rings, and each one that falls out is old garbage) it picks its smallest,
//   about a tenth: a major collection every few seconds under load, each one's
//   marking slowing the event loop for ~100 ms (its steps and write barriers,
//   its helper threads taking cores), and every request in that window waits.
//   A fixed step trades heap for fewer of them (--max-old-space-size still caps it).
//
// A V8 flag given on the command line wins over either setting (its last occurrence, as V8 reads them).
import { setFlagsFromString } from 'node:v8';

export interface GcSettings {
  /** V8's --heap-growing-percent; 0: V8's own choice. */
  heapGrowthPercent: number;
  /** V8's --allocation-site-pretenuring. */
  pretenuring: boolean;
  /** The nice value of V8's helper threads (server/gc-helper-priority.ts); 0 leaves them alone. */
  helperNice: number;
}

/** What is in force after `applyGcSettings`: undefined growth is V8's own choice. */
export interface AppliedGcSettings {
  heapGrowthPercent: number | undefined;
  pretenuring: boolean;
}

const GROWTH_FLAG = /^--heap[-_]growing[-_]percent(=|$)/;
const PRETENURING_FLAG = /^--(no[-_])?allocation[-_]site[-_]pretenuring$/;

export function applyGcSettings(settings: Omit<GcSettings, 'helperNice'>, execArgv: readonly string[] = process.execArgv, setFlags: (flags: string) => void = setFlagsFromString): AppliedGcSettings {
  let heapGrowthPercent: number | undefined;
  const growth = execArgv.findLast((a) => GROWTH_FLAG.test(a));
  if (growth !== undefined) {
    const value = Number(growth.split('=')[1]);
    heapGrowthPercent = Number.isInteger(value) && value > 0 ? value : undefined;
  } else if (settings.heapGrowthPercent > 0) {
    setFlags(`--heap-growing-percent=${settings.heapGrowthPercent}`);
    heapGrowthPercent = settings.heapGrowthPercent;
  }
  let pretenuring: boolean;
  const given = execArgv.findLast((a) => PRETENURING_FLAG.test(a));
  if (given !== undefined) pretenuring = !given.startsWith('--no');
  else {
    pretenuring = settings.pretenuring;
    // V8's default is on: only turning it off needs saying.
    if (!pretenuring) setFlags('--no-allocation-site-pretenuring');
  }
  return { heapGrowthPercent, pretenuring };
}
