// Summarises what a V8 heap snapshot (.heapsnapshot, as v8.writeHeapSnapshot
// writes it) holds by kind of object: count and self size per constructor
// name (objects), per closure name, and per V8-internal kind (strings,
// arrays, contexts...), the grouping of DevTools' Summary view. Diffing two
// summaries (a server before and after N sessions connected) and dividing by
// N says where each session's bytes go. `--retainers` says who holds objects
// of a given shape (or strings of a given text): each one's shortest path
// from the roots, grouped, as DevTools' Retainers view shows one object's.
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
  meta: { node_fields: string[]; node_types: [string[], ...unknown[]]; edge_fields: string[]; edge_types: [string[], ...unknown[]] };
  node_count: number;
  edge_count: number;
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
  if (n !== expected) throw new Error(`heap snapshot: read ${n} fields, expected ${expected}`);
  return { values, end: i };
}

/** A snapshot's graph as flat arrays, as the file has it (nodes and edges by their field strides). */
interface Snapshot {
  nodeCount: number;
  nodeStride: number;
  edgeStride: number;
  nodes: Float64Array;
  edges: Float64Array;
  strings: string[];
  nodeTypes: string[];
  edgeTypes: string[];
  /** Offsets of a node's fields and an edge's fields. */
  n: { type: number; name: number; id: number; size: number; edges: number };
  e: { type: number; name: number; to: number };
}

function readSnapshot(path: string): Snapshot {
  const buf = readFileSync(path);
  const nodesAt = buf.indexOf('"nodes":', 0, 'latin1');
  const head = buf.toString('utf8', 0, nodesAt).trim();
  // `{"snapshot":{...},` -> the inner object.
  const snapshot = JSON.parse(head.slice(head.indexOf(':') + 1, head.lastIndexOf(','))) as SnapshotMeta;
  const nf = snapshot.meta.node_fields;
  const ef = snapshot.meta.edge_fields;
  const nodes = readNumbers(buf, sectionStart(buf, 'nodes', nodesAt), snapshot.node_count * nf.length);
  const edges = readNumbers(buf, sectionStart(buf, 'edges', nodes.end), snapshot.edge_count * ef.length);
  // Edges hold only numbers, so the first "strings" key after them is the section.
  const stringsStart = sectionStart(buf, 'strings', edges.end);
  const stringsEnd = buf.lastIndexOf(']');
  const strings = JSON.parse(`[${buf.toString('utf8', stringsStart, stringsEnd)}]`) as string[];
  return {
    nodeCount: snapshot.node_count,
    nodeStride: nf.length,
    edgeStride: ef.length,
    nodes: nodes.values,
    edges: edges.values,
    strings,
    nodeTypes: snapshot.meta.node_types[0],
    edgeTypes: snapshot.meta.edge_types[0],
    n: { type: nf.indexOf('type'), name: nf.indexOf('name'), id: nf.indexOf('id'), size: nf.indexOf('self_size'), edges: nf.indexOf('edge_count') },
    e: { type: ef.indexOf('type'), name: ef.indexOf('name_or_index'), to: ef.indexOf('to_node') },
  };
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
  const s = readSnapshot(path);
  const summary: HeapSummary = new Map();
  const values = s.nodes;
  for (let i = 0; i < values.length; i += s.nodeStride) {
    const kind = kindOf(s.nodeTypes[values[i + s.n.type]!]!, s.strings[values[i + s.n.name]!]!);
    if (kind === undefined) continue;
    let t = summary.get(kind);
    if (!t) summary.set(kind, (t = { count: 0, selfSize: 0 }));
    t.count++;
    t.selfSize += values[i + s.n.size]!;
  }
  return summary;
}

/**
 * Which nodes to explain: objects having all of `props` as properties, and/or strings whose text matches `text`.
 * A property holding a small integer (a Smi) has no edge in a snapshot: it cannot be matched on.
 */
export interface RetainerQuery {
  props?: string[];
  text?: RegExp;
}

export interface RetainerReport {
  matched: number;
  matchedBytes: number;
  /** Matched nodes no path from the roots reaches (garbage the snapshot kept: none after its full GC). */
  unreachable: number;
  /** Each matched node's shortest path from the roots, nearest retainer first, `depth` steps; grouped, most first. */
  paths: { path: string; count: number; bytes: number }[];
}

/**
 * Who holds the nodes `query` picks: a breadth-first walk from the snapshot's
 * root over every edge but weak ones gives each node its nearest retainer on a
 * shortest path from the roots (DevTools' "distance"), and each match's path,
 * read back from it, is grouped by its first `depth` steps. A WeakMap entry's
 * value shows as held by the map's table (an internal edge named after the
 * key): held as long as its key is.
 */
export function retainers(path: string, query: RetainerQuery, depth = 8): RetainerReport {
  const s = readSnapshot(path);
  const { nodes, edges, strings, nodeStride, edgeStride } = s;
  const firstEdge = new Uint32Array(s.nodeCount + 1);
  for (let i = 0; i < s.nodeCount; i++) firstEdge[i + 1] = firstEdge[i]! + nodes[i * nodeStride + s.n.edges]!;
  const weak = s.edgeTypes.indexOf('weak');
  const parent = new Int32Array(s.nodeCount).fill(-1);
  const parentEdge = new Int32Array(s.nodeCount).fill(-1);
  const queue = new Uint32Array(s.nodeCount);
  let head = 0;
  let tail = 0;
  queue[tail++] = 0;
  parent[0] = 0;
  while (head < tail) {
    const from = queue[head++]!;
    for (let e = firstEdge[from]!; e < firstEdge[from + 1]!; e++) {
      const at = e * edgeStride;
      if (edges[at + s.e.type] === weak) continue;
      const to = edges[at + s.e.to]! / nodeStride;
      if (parent[to] !== -1) continue;
      parent[to] = from;
      parentEdge[to] = e;
      queue[tail++] = to;
    }
  }
  const typeOf = (i: number) => s.nodeTypes[nodes[i * nodeStride + s.n.type]!]!;
  const nameOf = (i: number) => strings[nodes[i * nodeStride + s.n.name]!]!;
  const describe = (i: number) => {
    const type = typeOf(i);
    const name = nameOf(i);
    if (type === 'string' || type === 'concatenated string' || type === 'sliced string') return `(${type})`;
    return kindOf(type, name.length > 60 ? `${name.slice(0, 57)}...` : name) ?? name;
  };
  const edgeName = (e: number) => {
    const at = e * edgeStride;
    const type = s.edgeTypes[edges[at + s.e.type]!]!;
    const n = edges[at + s.e.name]!;
    const name = type === 'element' || type === 'hidden' ? `[${n}]` : strings[n]!;
    // A WeakMap entry's edge names its key and table by node id, different for every entry.
    return `${type}:${name.replace(/@\d+/g, '@')}`;
  };
  const propsOf = (i: number) => {
    const names = new Set<string>();
    for (let e = firstEdge[i]!; e < firstEdge[i + 1]!; e++) if (s.edgeTypes[edges[e * edgeStride + s.e.type]!] === 'property') names.add(strings[edges[e * edgeStride + s.e.name]!]!);
    return names;
  };
  const report: RetainerReport = { matched: 0, matchedBytes: 0, unreachable: 0, paths: [] };
  const grouped = new Map<string, { count: number; bytes: number }>();
  for (let i = 0; i < s.nodeCount; i++) {
    const type = typeOf(i);
    let match = false;
    if (query.text !== undefined && (type === 'string' || type === 'concatenated string' || type === 'sliced string')) match = query.text.test(nameOf(i));
    if (!match && query.props !== undefined && type === 'object') {
      const names = propsOf(i);
      match = query.props.every((p) => names.has(p));
    }
    if (!match) continue;
    const bytes = nodes[i * nodeStride + s.n.size]!;
    report.matched++;
    report.matchedBytes += bytes;
    if (parent[i] === -1) {
      report.unreachable++;
      continue;
    }
    const steps = [describe(i)];
    for (let at = i, k = 0; at !== 0 && k < depth; at = parent[at]!, k++) steps.push(`<-${edgeName(parentEdge[at]!)}- ${describe(parent[at]!)}`);
    const key = steps.join(' ');
    const g = grouped.get(key) ?? { count: 0, bytes: 0 };
    g.count++;
    g.bytes += bytes;
    grouped.set(key, g);
  }
  report.paths = [...grouped].map(([p, g]) => ({ path: p, ...g })).sort((a, b) => b.count - a.count);
  return report;
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
// `node --import tsx bench/heap-snapshot-summary.ts --retainers SNAPSHOT [--props a,b,...] [--text REGEX] [--depth 8] [--top 20]`
if (import.meta.url === `file://${process.argv[1]}`) {
  const args = process.argv.slice(2);
  if (args[0] === '--retainers') {
    const opt = (name: string) => {
      const at = args.indexOf(`--${name}`);
      return at < 0 ? undefined : args[at + 1];
    };
    const props = opt('props')?.split(',');
    const text = opt('text');
    if (!args[1] || (props === undefined && text === undefined)) {
      process.stderr.write('usage: heap-snapshot-summary.ts --retainers SNAPSHOT [--props a,b,...] [--text REGEX] [--depth N] [--top N]\n');
      process.exit(2);
    }
    const r = retainers(args[1], { ...(props ? { props } : {}), ...(text ? { text: new RegExp(text) } : {}) }, Number(opt('depth') ?? 8));
    process.stdout.write(`${r.matched} nodes matched (${r.matchedBytes} B self), ${r.unreachable} unreachable; shortest paths from the roots, nearest retainer first:\n`);
    for (const p of r.paths.slice(0, Number(opt('top') ?? 20))) process.stdout.write(`${String(p.count).padStart(7)}  ${String(p.bytes).padStart(9)} B  ${p.path}\n`);
  } else {
    const [before, after, n, top] = args;
    if (!before || !after || !n) {
      process.stderr.write('usage: heap-snapshot-summary.ts BEFORE.heapsnapshot AFTER.heapsnapshot SESSIONS [TOP]\n       heap-snapshot-summary.ts --retainers SNAPSHOT [--props a,b,...] [--text REGEX] [--depth N] [--top N]\n');
      process.exit(2);
    }
    const { rows, totalBytes } = diffPerSession(summariseHeapSnapshot(before), summariseHeapSnapshot(after), Number(n));
    for (const r of rows.slice(0, Number(top ?? 20))) process.stdout.write(`${r.bytes.toFixed(0).padStart(7)} B  ${r.count.toFixed(2).padStart(7)}  ${r.kind}\n`);
    process.stdout.write(`${totalBytes.toFixed(0).padStart(7)} B  total per session\n`);
  }
}
