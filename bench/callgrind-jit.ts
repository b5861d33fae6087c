// Names the JIT code in a callgrind dump: callgrind reports V8's generated
// code as `???:0x<address>`; node --perf-basic-prof writes /tmp/perf-<pid>.map
// (start, size, name per code object), and this sums each dump entry's
// counts under the code object whose range holds its address. Native
// functions (V8's builtins and runtime, Node, libuv, libc) are listed as
// callgrind_annotate names them. Self counts, sorted by the first event, or
// with --misses (a dump made with --cache-sim=yes) by D1mr + D1mw. --per N
// divides every count by N (deliveries, say).
//
//   node --import tsx bench/callgrind-jit.ts CALLGRIND.OUT PERF.MAP [--top 50] [--misses] [--per N]
import { readFileSync } from 'node:fs';
import { annotate } from './callgrind-annotate.js';

// Piped into head: a closed stdout ends the listing, not the process with a stack.
process.stdout.on('error', () => process.exit(0));

const args = process.argv.slice(2);
const valueOf = (flag: string): string | undefined => {
  const at = args.indexOf(flag);
  return at >= 0 ? args[at + 1] : undefined;
};
const positional = args.filter((a, i) => !a.startsWith('--') && !['--top', '--per'].includes(args[i - 1] ?? ''));
const [dump, mapFile] = positional;
if (dump === undefined || mapFile === undefined) {
  process.stderr.write('usage: node --import tsx bench/callgrind-jit.ts CALLGRIND.OUT PERF.MAP [--top 50] [--misses] [--per N]\n');
  process.exit(2);
}
const top = Number(valueOf('--top') ?? 50);
const per = Number(valueOf('--per') ?? 1);
const misses = args.includes('--misses');
const EVENTS = misses ? ['Ir', 'D1mr', 'D1mw', 'DLmr', 'DLmw'] : ['Ir'];

// Code objects, sorted by start; V8 may reuse a range for later code: the last entry written wins.
const ranges = readFileSync(mapFile, 'utf8')
  .split('\n')
  .map((line) => /^([0-9a-f]+) ([0-9a-f]+) (.*)$/.exec(line))
  .filter((m): m is RegExpExecArray => m !== null)
  .map((m) => ({ start: parseInt(m[1]!, 16), end: parseInt(m[1]!, 16) + parseInt(m[2]!, 16), name: m[3]! }));
const byStart = [...ranges].sort((a, b) => a.start - b.start);

function nameOf(address: number): string | undefined {
  let lo = 0;
  let hi = byStart.length - 1;
  let found: (typeof byStart)[number] | undefined;
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

const totals = new Map<string, number[]>();
const all = EVENTS.map(() => 0);
for (const row of annotate(dump, EVENTS)) {
  let label = row.label.replace(/\s+\[[^\]]*\]$/, '');
  const jit = /^\?\?\?:0x([0-9a-f]+)/.exec(label);
  if (jit) label = `JIT ${nameOf(parseInt(jit[1]!, 16)) ?? `unmapped 0x${jit[1]}`}`;
  const sums = totals.get(label) ?? EVENTS.map(() => 0);
  for (let i = 0; i < EVENTS.length; i++) {
    sums[i]! += row.counts[i]!;
    all[i]! += row.counts[i]!;
  }
  totals.set(label, sums);
}
const key = (c: number[]) => (misses ? c[1]! + c[2]! : c[0]!);
const fmt = (n: number) => (per === 1 ? n.toLocaleString('en') : (n / per).toFixed(per >= 100 ? 2 : 1));
console.log(`${EVENTS.join(' ')}${per === 1 ? '' : ` (per ${per})`}, in the listed functions: ${all.map(fmt).join(' ')}`);
for (const [label, c] of [...totals].sort((a, b) => key(b[1]) - key(a[1])).slice(0, top)) console.log(`${c.map((n) => fmt(n).padStart(12)).join('')}  ${label.slice(0, 150)}`);
