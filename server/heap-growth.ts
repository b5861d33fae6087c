// How far V8 lets the old generation grow before its next major collection.
//
// After each mark-compact V8 sets the next limit at the live size times a
// factor it derives from how fast it collects against how fast the program
// allocates old objects. A chat server promotes a steady trickle (every
// message's frame stays in up to `resumeBuffer` sessions' replay rings, and
// each one that falls out is old garbage), which V8 judges cheap to collect,
// so it picks its smallest step, about a tenth of what is live: with ~55 MB
// live at 3,500 posts/s that is a major collection every 2-3 s. Each one's
// marking slows the event loop for ~100 ms (the main thread's marking steps and
// write barriers, and its helper threads taking cores from it), and every
// request in that window waits: on two cores, that alone decided the REST ack
// p99 (bench/README.md, "Major collections and the paced ack p99").
// A fixed step (V8's --heap-growing-percent) trades heap for fewer of them;
// the limit V8 is given (--max-old-space-size) still caps it.
import { setFlagsFromString } from 'node:v8';

const FLAG = /^--heap[-_]growing[-_]percent(=|$)/;

/**
 * Sets V8's old-generation growth step to `percent` of the live heap, unless it
 * is 0 (V8's own choice) or the process was started with the V8 flag itself
 * (the operator's choice wins). Returns the step in force, or undefined for V8's.
 * V8 reads the flag each time it sets a limit, so setting it at start-up
 * takes effect from the next collection on.
 */
export function applyHeapGrowth(percent: number, execArgv: readonly string[] = process.execArgv, setFlags: (flags: string) => void = setFlagsFromString): number | undefined {
  const given = execArgv.find((a) => FLAG.test(a));
  if (given !== undefined) {
    const value = Number(given.split('=')[1]);
    return Number.isInteger(value) && value > 0 ? value : undefined;
  }
  if (percent === 0) return undefined;
  setFlags(`--heap-growing-percent=${percent}`);
  return percent;
}
