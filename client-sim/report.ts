// The end of a run: host results merged into one report, the pass/fail
// verdict with its reasons, a flat metrics map for --assert, a readable table
// for people and the same figures as JSON for machines.
import { type DeliveryTally, emptyTally } from './accounting.js';
import { type AssertionResult, evaluateAssertions } from './assertions.js';
import type { SimOptions } from './cli.js';
import { HistogramSet, type LatencySummary, SUMMARY_STATS } from './histograms.js';
import { type HostCounters, type HostResult, emptyCounters } from './host.js';
import type { RestCounters } from './rest.js';

export interface SimReport {
  scenario: string;
  startedAt: string;
  durationS: number;
  options: Omit<SimOptions, 'assertions' | 'json' | 'progress' | 'scenario'>;
  sessions: { total: number; ready: number; failed: number; states: Record<string, number> };
  delivery: DeliveryTally;
  seq: { dispatches: number; gaps: number; duplicated: number; outOfOrder: number };
  throughput: { events: number; eventsPerS: number; deliveries: number; deliveriesPerS: number; loadS: number };
  sent: { messages: number; presence: number; failed: number };
  rest: RestCounters;
  gateway: Omit<HostCounters, 'events'>;
  errors: Record<string, number>;
  errorSamples: Record<string, string[]>;
  latency: Record<string, LatencySummary>;
  /** Scenario-specific figures (cuts made, sessions that joined during the flood...). */
  notes: Record<string, number | string>;
  metrics: Record<string, number>;
  assertions: AssertionResult[];
  failures: string[];
  passed: boolean;
}

export interface RunFacts {
  options: SimOptions;
  startedAt: Date;
  durationS: number;
  /** Seconds of the load phase (first send to everything delivered). */
  loadS: number;
  hosts: HostResult[];
  /** Main-thread histograms (REST latency). */
  histograms: HistogramSet;
  rest: RestCounters;
  sent: { messages: number; presence: number; failed: number };
  notes: Record<string, number | string>;
  /** The scenario drops events on purpose, so loss alone does not fail it. */
  expectsLoss: boolean;
  /**
   * A node is killed on purpose (node-kill): its sockets close unexpectedly, its sessions cannot
   * resume (INVALID_SESSION, then IDENTIFY) and catch up through history. Elsewhere each of those fails the run.
   */
  expectsNodeLoss?: boolean;
  /** Problems the run itself noticed (timeouts waiting for READY, ...). */
  problems: string[];
}

export function buildReport(f: RunFacts): SimReport {
  const histograms = new HistogramSet();
  histograms.merge(f.histograms);
  const delivery: DeliveryTally = emptyTally();
  const seq = { dispatches: 0, gaps: 0, duplicated: 0, outOfOrder: 0 };
  const { events: _events, ...gateway } = emptyCounters();
  const errors: Record<string, number> = {};
  const errorSamples: Record<string, string[]> = {};
  const states: Record<string, number> = {};
  let events = 0;
  for (const h of f.hosts) {
    histograms.merge(HistogramSet.decode(h.histograms));
    for (const k of Object.keys(delivery) as (keyof DeliveryTally)[]) delivery[k] += h.tally[k];
    // Every host sees every registration; events are counted once.
    seq.dispatches += h.seq.seen;
    seq.gaps += h.seq.gaps;
    seq.duplicated += h.seq.duplicated;
    seq.outOfOrder += h.seq.outOfOrder;
    for (const k of Object.keys(gateway) as (keyof typeof gateway)[]) gateway[k] += h.counters[k];
    events += h.counters.events;
    for (const [k, v] of Object.entries(h.errors)) errors[k] = (errors[k] ?? 0) + v;
    for (const [k, v] of Object.entries(h.errorSamples)) errorSamples[k] = [...(errorSamples[k] ?? []), ...v].slice(0, 3);
    for (const [k, v] of Object.entries(h.states)) states[k] = (states[k] ?? 0) + v;
  }
  delivery.events = Math.max(0, ...f.hosts.map((h) => h.tally.events));
  const total = f.options.sessions;
  const failed = states.failed ?? 0;
  // At the end every session has been closed by us; "ready" is what was complete before that.
  const ready = Number(f.notes.sessions_ready ?? total - failed);
  const latency = histograms.summaries();
  const loadS = Math.max(f.loadS, 1e-3);
  const gatewayErrors = Object.entries(errors).reduce((n, [, v]) => n + v, 0);

  const metrics: Record<string, number> = {
    sessions: total,
    sessions_ready: ready,
    sessions_failed: failed,
    expected: delivery.expected,
    delivered: delivery.delivered,
    lost: delivery.lost,
    duplicated: delivery.duplicated + seq.duplicated,
    unexpected: delivery.unexpected,
    out_of_order: seq.outOfOrder,
    seq_gaps: seq.gaps,
    seq_duplicated: seq.duplicated,
    events,
    events_per_s: events / Math.max(f.durationS, 1e-3),
    deliveries_per_s: delivery.delivered / loadS,
    sent: f.sent.messages + f.sent.presence,
    send_failed: f.sent.failed,
    errors: gatewayErrors + f.rest.errors,
    rest_errors: f.rest.errors,
    rest_retries: f.rest.retries,
    gateway_errors: gatewayErrors,
    unexpected_closes: gateway.unexpectedCloses,
    resumes: gateway.resumes,
    resumes_failed: gateway.resumesFailed,
    heartbeat_misses: gateway.heartbeatMisses,
    via_history: delivery.viaHistory,
    history_overlap: delivery.historyOverlap,
    invalid_sessions: gateway.invalidSessions,
    reidentifies: gateway.reidentifies,
    reconnects: gateway.reconnects,
    connect_failures: gateway.connectFailures,
    guild_outages: gateway.guildOutages,
    nodes: f.options.urls.length,
    duration_s: f.durationS,
  };
  for (const [name, s] of Object.entries(latency)) for (const stat of SUMMARY_STATS) metrics[`${name}_${stat}`] = s[stat];

  const failures = [...f.problems];
  if (delivery.lost > 0 && !f.expectsLoss) failures.push(`${delivery.lost} expected deliveries lost`);
  if (delivery.duplicated > 0) failures.push(`${delivery.duplicated} duplicated deliveries`);
  if (delivery.unexpected > 0) failures.push(`${delivery.unexpected} unexpected deliveries`);
  if (seq.gaps > 0 && !f.expectsLoss) failures.push(`${seq.gaps} seq gaps (events lost)`);
  if (seq.duplicated > 0) failures.push(`${seq.duplicated} seq repeats (events duplicated)`);
  if (seq.outOfOrder > 0) failures.push(`${seq.outOfOrder} events out of order`);
  if (failed > 0) failures.push(`${failed} sessions failed`);
  // A send cut off by a killed node was never acknowledged: nothing is owed, so it is reported, not failed.
  if (f.sent.failed > 0 && !f.expectsNodeLoss) failures.push(`${f.sent.failed} sends failed`);
  if (!f.expectsNodeLoss) {
    // Without a node lost, the gateway alone must bring everything: no session lost, no catch-up needed.
    if (gateway.resumesFailed > 0) failures.push(`${gateway.resumesFailed} resumes failed`);
    if (gateway.unexpectedCloses > 0) failures.push(`${gateway.unexpectedCloses} connections closed unexpectedly`);
    if (gateway.invalidSessions > 0) failures.push(`${gateway.invalidSessions} INVALID_SESSIONs`);
    if (delivery.viaHistory > 0) failures.push(`${delivery.viaHistory} deliveries lost over the gateway (found only in history)`);
  }

  const assertions = evaluateAssertions(f.options.assertions, metrics);
  for (const a of assertions) if (!a.ok) failures.push(`assertion failed: ${a.text} (actual ${a.actual === undefined ? 'none' : round(a.actual)})`);

  const { assertions: _a, json: _j, progress: _p, scenario, ...options } = f.options;
  return {
    scenario,
    startedAt: f.startedAt.toISOString(),
    durationS: round(f.durationS),
    options,
    sessions: { total, ready, failed, states },
    delivery,
    seq,
    throughput: { events, eventsPerS: round(metrics.events_per_s!), deliveries: delivery.delivered, deliveriesPerS: round(metrics.deliveries_per_s!), loadS: round(loadS) },
    sent: f.sent,
    rest: f.rest,
    gateway,
    errors,
    errorSamples,
    latency,
    notes: f.notes,
    metrics: Object.fromEntries(Object.entries(metrics).map(([k, v]) => [k, round(v)])),
    assertions,
    failures,
    passed: failures.length === 0,
  };
}

function round(n: number): number {
  return Math.round(n * 1000) / 1000;
}

const fmt = (n: number) => n.toLocaleString('en-US', { maximumFractionDigits: 2 });

/** The human summary: what ran, correctness, throughput, latency table, errors, verdict. */
export function formatReport(r: SimReport): string {
  const o = r.options;
  const lines: string[] = [];
  lines.push(`client-sim ${r.scenario}: ${fmt(o.sessions)} sessions, ${fmt(o.users)} users, ${fmt(o.guilds)} guilds, ${fmt(r.durationS)} s against ${o.urls.join(',')}`);
  lines.push('');
  const g = r.gateway;
  lines.push(`sessions     ready ${fmt(r.sessions.ready)}/${fmt(r.sessions.total)}  failed ${fmt(r.sessions.failed)}  resumes ${fmt(g.resumes)} (failed ${fmt(g.resumesFailed)})  unexpected closes ${fmt(g.unexpectedCloses)}`);
  if (g.reconnects + g.invalidSessions + g.connectFailures + g.guildOutages > 0) {
    lines.push(`cluster      op 7 reconnects ${fmt(g.reconnects)}  INVALID_SESSION ${fmt(g.invalidSessions)}  re-identified ${fmt(g.reidentifies)}  refused connects ${fmt(g.connectFailures)}  guild outages ${fmt(g.guildOutages)} (back ${fmt(g.guildReturns)})  history reads ${fmt(g.historyReads)}`);
  }
  lines.push(`sent         messages ${fmt(r.sent.messages)}  presence ${fmt(r.sent.presence)}  failed ${fmt(r.sent.failed)}  (REST requests ${fmt(r.rest.requests)}, errors ${fmt(r.rest.errors)}, 429 retries ${fmt(r.rest.retries)})`);
  const d = r.delivery;
  lines.push(`deliveries   expected ${fmt(d.expected)}  delivered ${fmt(d.delivered)}  lost ${fmt(d.lost)}  duplicated ${fmt(d.duplicated)}  unexpected ${fmt(d.unexpected)}  in-flight joins ${fmt(d.optional)}${d.viaHistory + d.historyOverlap > 0 ? `  via history ${fmt(d.viaHistory)} (also on the gateway ${fmt(d.historyOverlap)})` : ''}`);
  lines.push(`seq          dispatches ${fmt(r.seq.dispatches)}  gaps ${fmt(r.seq.gaps)}  repeats ${fmt(r.seq.duplicated)}  out of order ${fmt(r.seq.outOfOrder)}`);
  lines.push(`throughput   ${fmt(r.throughput.eventsPerS)} events/s overall, ${fmt(r.throughput.deliveriesPerS)} tracked deliveries/s over ${fmt(r.throughput.loadS)} s of load`);
  const notes = Object.entries(r.notes).filter(([k]) => k !== 'sessions_ready');
  if (notes.length) lines.push(`notes        ${notes.map(([k, v]) => `${k} ${typeof v === 'number' ? fmt(v) : v}`).join('  ')}`);
  lines.push('');
  const head = ['latency (ms)', 'count', 'p50', 'p90', 'p99', 'p99.9', 'max'];
  const rows = Object.entries(r.latency).map(([name, s]) => [name, fmt(s.count), fmt(s.p50), fmt(s.p90), fmt(s.p99), fmt(s.p999), fmt(s.max)]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const row = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  lines.push(row(head));
  for (const cells of rows) lines.push(row(cells));
  const errs = Object.entries(r.errors);
  if (errs.length) {
    lines.push('');
    lines.push('errors');
    for (const [kind, n] of errs) lines.push(`  ${kind}: ${fmt(n)}${r.errorSamples[kind]?.length ? `  e.g. ${r.errorSamples[kind]!.join(' | ')}` : ''}`);
  }
  if (r.assertions.length) {
    lines.push('');
    lines.push('assertions');
    for (const a of r.assertions) lines.push(`  ${a.ok ? 'ok  ' : 'FAIL'} ${a.text}  (actual ${a.actual === undefined ? 'none' : fmt(a.actual)})`);
  }
  lines.push('');
  lines.push(r.passed ? 'PASSED' : `FAILED: ${r.failures.join('; ')}`);
  return lines.join('\n');
}
