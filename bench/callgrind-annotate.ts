// Reads `callgrind_annotate`'s self-cost listing of a dump: one row per
// function, with the count of each event asked for (Ir alone, or Ir and the
// cache simulation's misses). callgrind_annotate 3.19 prints a percentage after
// each non-zero count and `.` or `0` for none; the function's label follows the
// counts (file:function, then the object in brackets).
import { execFileSync } from 'node:child_process';

export interface AnnotatedRow {
  label: string;
  counts: number[];
}

/** Self counts of `events` (callgrind's names: Ir, D1mr, D1mw, DLmr, DLmw...) per function of `dump`. */
export function annotate(dump: string, events: readonly string[] = ['Ir']): AnnotatedRow[] {
  const listing = execFileSync('callgrind_annotate', ['--threshold=100', `--show=${events.join(',')}`, '--inclusive=no', dump], { encoding: 'utf8', maxBuffer: 1 << 28 });
  const rows: AnnotatedRow[] = [];
  for (const line of listing.split('\n')) {
    const tokens = line.replace(/\(\s*[\d.]+%\)/g, '').trim().split(/\s+/);
    if (tokens.length <= events.length) continue;
    const counts: number[] = [];
    for (let i = 0; i < events.length; i++) {
      const t = tokens[i]!;
      if (t === '.') counts.push(0);
      else if (/^[\d,]+$/.test(t)) counts.push(Number(t.replace(/,/g, '')));
      else break;
    }
    if (counts.length < events.length) continue;
    const label = tokens.slice(events.length).join(' ');
    if (!label.includes(':') || label.startsWith('PROGRAM TOTALS')) continue;
    rows.push({ label, counts });
  }
  return rows;
}
