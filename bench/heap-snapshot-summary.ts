// Summarises what a V8 heap snapshot (.heapsnapshot, as v8.writeHeapSnapshot
// writes it) holds by kind of object: count and self size per constructor
// name (objects), per closure name, and per V8-internal kind (strings,
// arrays, contexts...), the grouping of DevTools' Summary view. Diffing two
// summaries (a server before and after N sessions connected) and dividing by
// N says where each session's bytes go.
//
// The nodes are read straight from the file's bytes and only the strings
// section goes through JSON.parse: a snapshot of a server with thousands of
// sessions is hundreds of MB, past what one JSON.parse string may hold.
// Format: https://v8.dev/docs/memory-leaks (node_fields, node_types, strings).
import { readFileSync } from 'node:fs';

export interface KindTotals {
  count: number;
  selfSize: number;
}

export type HeapSummary = Map<string, KindTotals>;

interface SnapshotMeta {
  meta: { node_fields: string[]; node_types: [string[], ...unknown[]] };
  node_count: number;
}

function sectionStart(buf: Buffer, key: string, from: number): number {
  const at = buf.indexOf(`"${key}":`, from, 'latin1');
  if (at < 0) throw new Error(`heap snapshot has no "${key}" section`);
  return buf.indexOf('[', at) + 1;
}

/** The numbers of the JSON array starting at `start` (just past its '['), up to its ']'. */
function readNumbers(buf: Buffer, start: number, expected: number): { values: Float64Array; end: number } {
  const values = new Float64Array(expected);
  let n = 0;
  let value = 0;
  let inNumber = false;
  let i = start;
  for (; i < buf.length; i++) {
    const c = buf[i]!;
    if (c >= 48 && c <= 57) {
      value = value * 10 + (c - 48);
      inNumber = true;
    } else {
      if (inNumber) {
        values[n++] = value;
        value = 0;
        inNumber = false;
      }
      if (c === 93) break; // ']'
    }
  }
  if (n !== expected) throw new Error(`heap snapshot: read ${n} node fields, expected ${expected}`);
  return { values, end: i };
}

/** The kind a node is counted under, as DevTools' Summary groups them. */
function kindOf(type: string, name: string): string | undefined {
  switch (type) {
    case 'object':
    case 'native':
      return name;
    case 'closure':
      return `(closure) ${name || '(anonymous)'}`;
    case 'string':
    case 'concatenated string':
    case 'sliced string':
      return '(string)';
    case 'array':
      return `(array) ${name}`;
    case 'hidden':
      return `(system) ${name}`;
    case 'code':
      return '(compiled code)';
    case 'synthetic':
      return undefined; // roots: no memory of their own
    default:
      return `(${type})`;
  }
}

export function summariseHeapSnapshot(path: string): HeapSummary {
  const buf = readFileSync(path);
  const nodesAt = buf.indexOf('"nodes":', 0, 'latin1');
  const head = buf.toString('utf8', 0, nodesAt).trim();
  // `{"snapshot":{...},` -> the inner object.
  const snapshot = JSON.parse(head.slice(head.indexOf(':') + 1, head.lastIndexOf(','))) as SnapshotMeta;
  const fields = snapshot.meta.node_fields;
  const stride = fields.length;
  const typeAt = fields.indexOf('type');
  const nameAt = fields.indexOf('name');
  const sizeAt = fields.indexOf('self_size');
  const types = snapshot.meta.node_types[0];
  const nodes = readNumbers(buf, sectionStart(buf, 'nodes', nodesAt), snapshot.node_count * stride);
  // Edges hold only numbers, so the first "strings" key after them is the section.
  const stringsStart = sectionStart(buf, 'strings', sectionStart(buf, 'edges', nodes.end));
  const stringsEnd = buf.lastIndexOf(']');
  const strings = JSON.parse(`[${buf.toString('utf8', stringsStart, stringsEnd)}]`) as string[];

  const summary: HeapSummary = new Map();
  const values = nodes.values;
  for (let i = 0; i < values.length; i += stride) {
    const kind = kindOf(types[values[i + typeAt]!]!, strings[values[i + nameAt]!]!);
    if (kind === undefined) continue;
    let t = summary.get(kind);
    if (!t) summary.set(kind, (t = { count: 0, selfSize: 0 }));
    t.count++;
    t.selfSize += values[i + sizeAt]!;
  }
  return summary;
}

export interface KindDelta {
  kind: string;
  /** Per session (after minus before, over `sessions`). */
  count: number;
  bytes: number;
}

/** What `after` holds beyond `before`, per session, largest first. */
export function diffPerSession(before: HeapSummary, after: HeapSummary, sessions: number): { rows: KindDelta[]; totalBytes: number } {
  const kinds = new Set([...before.keys(), ...after.keys()]);
  const rows: KindDelta[] = [];
  let total = 0;
  for (const kind of kinds) {
    const a = after.get(kind) ?? { count: 0, selfSize: 0 };
    const b = before.get(kind) ?? { count: 0, selfSize: 0 };
    const bytes = (a.selfSize - b.selfSize) / sessions;
    total += bytes;
    rows.push({ kind, count: (a.count - b.count) / sessions, bytes });
  }
  rows.sort((x, y) => y.bytes - x.bytes);
  return { rows, totalBytes: total };
}

// `node --import tsx bench/heap-snapshot-summary.ts before.heapsnapshot after.heapsnapshot N [top]`
if (import.meta.url === `file://${process.argv[1]}`) {
  const [before, after, n, top] = process.argv.slice(2);
  if (!before || !after || !n) {
    process.stderr.write('usage: heap-snapshot-summary.ts BEFORE.heapsnapshot AFTER.heapsnapshot SESSIONS [TOP]\n');
    process.exit(2);
  }
  const { rows, totalBytes } = diffPerSession(summariseHeapSnapshot(before), summariseHeapSnapshot(after), Number(n));
  for (const r of rows.slice(0, Number(top ?? 20))) process.stdout.write(`${r.bytes.toFixed(0).padStart(7)} B  ${r.count.toFixed(2).padStart(7)}  ${r.kind}\n`);
  process.stdout.write(`${totalBytes.toFixed(0).padStart(7)} B  total per session\n`);
}
