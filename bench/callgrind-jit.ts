// Names the JIT code in a callgrind dump: callgrind reports V8's generated
// code as `???:0x<address>`; node --perf-basic-prof writes /tmp/perf-<pid>.map
// (start, size, name per code object), and this sums each dump entry's
// counts under the code object whose range holds its address. Native
// functions (V8's builtins and runtime, Node, libuv, libc) are listed as
// callgrind_annotate names them. Self counts, sorted by the first event, or
// with --misses (a dump made with --cache-sim=yes) by D1mr + D1mw. --per N
// divides every count by N (deliveries, say). --minus DUMP MAP subtracts a
// second dump's counts, function by function (the smaller guild size of
// bench:delivery-instructions: what is left grows with the deliveries).
//
//   node --import tsx bench/callgrind-jit.ts CALLGRIND.OUT PERF.MAP [--top 50] [--misses] [--per N] [--minus DUMP MAP]
import { readFileSync } from 'node:fs';
import { annotate } from './callgrind-annotate.js';

// Piped into head: a closed stdout ends the listing, not the process with a stack.
process.stdout.on('error', () => process.exit(0));

const args = process.argv.slice(2);
const valueOf = (flag: string): string | undefined => {
  const at = args.indexOf(flag);
  return at >= 0 ? args[at + 1] : undefined;
};
const minusAt = args.indexOf('--minus');
const minus = minusAt >= 0 ? { dump: args[minusAt + 1]!, map: args[minusAt + 2]! } : undefined;
const positional = args.filter((a, i) => !a.startsWith('--') && !['--top', '--per', '--minus'].includes(args[i - 1] ?? '') && !(minusAt >= 0 && i === minusAt + 2));
const [dump, mapFile] = positional;
if (dump === undefined || mapFile === undefined) {
  process.stderr.write('usage: node --import tsx bench/callgrind-jit.ts CALLGRIND.OUT PERF.MAP [--top 50] [--misses] [--per N]\n');
  process.exit(2);
}
const top = Number(valueOf('--top') ?? 50);
const per = Number(valueOf('--per') ?? 1);
const misses = args.includes('--misses');
const EVENTS = misses ? ['Ir', 'D1mr', 'D1mw', 'DLmr', 'DLmw'] : ['Ir'];

interface CodeRange {
  start: number;
  end: number;
  name: string;
}

// Code objects, sorted by start; V8 may reuse a range for later code: the last entry written wins.
function readMap(file: string): CodeRange[] {
  return readFileSync(file, 'utf8')
    .split('\n')
    .map((line) => /^([0-9a-f]+) ([0-9a-f]+) (.*)$/.exec(line))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => ({ start: parseInt(m[1]!, 16), end: parseInt(m[1]!, 16) + parseInt(m[2]!, 16), name: m[3]! }))
    .sort((a, b) => a.start - b.start);
}

function nameOf(byStart: CodeRange[], address: number): string | undefined {
  let lo = 0;
  let hi = byStart.length - 1;
  let found: CodeRange | undefined;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (byStart[mid]!.start <= address) {
      found = byStart[mid];
      lo = mid + 1;
    } else hi = mid - 1;
  }
  // The last code object starting at or before the address, if the address is inside it.
  for (let i = lo - 1; i >= 0 && i >= lo - 8; i--) if (byStart[i]!.start <= address && address < byStart[i]!.end) return byStart[i]!.name;
  return found && address < found.end ? found.name : undefined;
}

/** Self counts per function of `dumpFile`, JIT code named from `mapFile`, added with `sign` into `totals`. */
function addDump(totals: Map<string, number[]>, dumpFile: string, mapFile: string, sign: number): void {
  const byStart = readMap(mapFile);
  for (const row of annotate(dumpFile, EVENTS)) {
    let label = row.label.replace(/\s+\[[^\]]*\]$/, '');
    const jit = /^\?\?\?:0x([0-9a-f]+)/.exec(label);
    // A checkout's path and a function's line are left out, so that two checkouts' dumps compare by function.
    if (jit) label = `JIT ${(nameOf(byStart, parseInt(jit[1]!, 16)) ?? 'unmapped').replace(/file:\/\/\S*?\/(dist|bench)\//, '$1/').replace(/:\d+:\d+$/, '')}`;
    const sums = totals.get(label) ?? EVENTS.map(() => 0);
    for (let i = 0; i < EVENTS.length; i++) sums[i]! += sign * row.counts[i]!;
    totals.set(label, sums);
  }
}

const totals = new Map<string, number[]>();
addDump(totals, dump, mapFile, 1);
if (minus !== undefined) addDump(totals, minus.dump, minus.map, -1);
const all = EVENTS.map((_, i) => [...totals.values()].reduce((sum, c) => sum + c[i]!, 0));
const key = (c: number[]) => (misses ? c[1]! + c[2]! : c[0]!);
const fmt = (n: number) => (per === 1 ? n.toLocaleString('en') : (n / per).toFixed(per >= 100 ? 2 : 1));
console.log(`${EVENTS.join(' ')}${per === 1 ? '' : ` (per ${per})`}, in the listed functions: ${all.map(fmt).join(' ')}`);
for (const [label, c] of [...totals].sort((a, b) => key(b[1]) - key(a[1])).slice(0, top)) console.log(`${c.map((n) => fmt(n).padStart(12)).join('')}  ${label.slice(0, 150)}`);
