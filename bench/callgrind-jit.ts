// Names the JIT code in a callgrind dump: callgrind reports V8's generated
// code as `???:0x<address>`; node --perf-basic-prof writes /tmp/perf-<pid>.map
// (start, size, name per code object), and this sums each dump entry's
// instructions under the code object whose range holds its address. Native
// functions (V8's builtins and runtime, Node, libuv, libc) are listed as
// callgrind_annotate names them. Self instructions, sorted.
//
//   node --import tsx bench/callgrind-jit.ts CALLGRIND.OUT PERF.MAP [--top 50]
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

// Piped into head: a closed stdout ends the listing, not the process with a stack.
process.stdout.on('error', () => process.exit(0));

const [dump, mapFile] = process.argv.slice(2).filter((a) => !a.startsWith('--'));
if (dump === undefined || mapFile === undefined) {
  process.stderr.write('usage: node --import tsx bench/callgrind-jit.ts CALLGRIND.OUT PERF.MAP [--top 50]\n');
  process.exit(2);
}
const topAt = process.argv.indexOf('--top');
const top = topAt >= 0 ? Number(process.argv[topAt + 1]) : 50;

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

const annotated = execFileSync('callgrind_annotate', ['--threshold=100', dump], { encoding: 'utf8', maxBuffer: 1 << 28 });
const totals = new Map<string, number>();
let all = 0;
for (const line of annotated.split('\n')) {
  const m = /^\s*([\d,]+)\s+(?:\([^)]*\)\s+)?(.*)$/.exec(line);
  if (!m || !m[2]!.includes(':')) continue;
  const n = Number(m[1]!.replace(/,/g, ''));
  let label = m[2]!.replace(/\s+\[[^\]]*\]$/, '');
  if (label.startsWith('PROGRAM TOTALS')) continue;
  const jit = /^\?\?\?:0x([0-9a-f]+)/.exec(label);
  if (jit) label = `JIT ${nameOf(parseInt(jit[1]!, 16)) ?? `unmapped 0x${jit[1]}`}`;
  totals.set(label, (totals.get(label) ?? 0) + n);
  all += n;
}
console.log(`${all.toLocaleString('en')} instructions in the listed functions`);
for (const [label, n] of [...totals].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${n.toLocaleString('en').padStart(14)}  ${label.slice(0, 160)}`);
