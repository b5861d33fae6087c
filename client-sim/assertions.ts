// `--assert` expressions: `<metric> <op> <number>[unit]`, e.g. `fanout_p99<250ms`,
// `lost==0`, `ready_p50 <= 1.5s`, `deliveries_per_s>1000`. Parsed (and the
// metric name checked) once at the command-line boundary, so a typo fails
// before any load is generated; evaluated against the run's flat metrics.
import { SUMMARY_STATS } from './histograms.js';

export type Comparison = '<' | '<=' | '>' | '>=' | '==' | '!=';

export interface Assertion {
  /** The expression as written. */
  text: string;
  metric: string;
  op: Comparison;
  /** In the metric's own unit (ms for latencies). */
  value: number;
}

export interface AssertionResult {
  text: string;
  ok: boolean;
  /** The measured value, or undefined when the run produced none (which fails). */
  actual: number | undefined;
}

/** Counters and rates every report has (see report.ts for their meaning). */
export const COUNTER_METRICS = [
  'sessions',
  'sessions_ready',
  'sessions_failed',
  'expected',
  'delivered',
  'lost',
  'duplicated',
  'unexpected',
  'out_of_order',
  'seq_gaps',
  'seq_duplicated',
  'events',
  'events_per_s',
  'deliveries_per_s',
  'sent',
  'send_failed',
  'errors',
  'rest_errors',
  'rest_retries',
  'gateway_errors',
  'unexpected_closes',
  'resumes',
  'resumes_failed',
  'heartbeat_misses',
  'via_history',
  'history_overlap',
  'invalid_sessions',
  'reidentifies',
  'reconnects',
  'connect_failures',
  'guild_outages',
  'nodes',
  'duration_s',
] as const;

/** Latency histogram families; each gives `<family>_<stat>` with stats count, mean, p50, p90, p99, p999, max. */
export const LATENCY_FAMILIES = ['fanout', 'presence_fanout', 'connect', 'ready', 'guild_create', 'guild_create_hot', 'guild_create_quiet', 'resume', 'reidentify', 'rest', 'rest_setup'] as const;

const LATENCY_METRIC = new RegExp(`^(${LATENCY_FAMILIES.join('|')})_(${SUMMARY_STATS.join('|')})$`);

export function isKnownMetric(name: string): boolean {
  return (COUNTER_METRICS as readonly string[]).includes(name) || LATENCY_METRIC.test(name);
}

/** Whether values of `name` are milliseconds (so time units apply). */
function isLatency(name: string): boolean {
  return LATENCY_METRIC.test(name) && !name.endsWith('_count');
}

const EXPRESSION = /^\s*([a-z][a-z0-9_]*)\s*(<=|>=|==|!=|<|>)\s*(-?\d+(?:\.\d+)?(?:e[+-]?\d+)?)\s*(us|µs|ms|s|m|%)?\s*$/i;

const TIME_UNITS: Record<string, number> = { us: 0.001, µs: 0.001, ms: 1, s: 1000, m: 60_000 };

export class AssertionSyntaxError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AssertionSyntaxError';
  }
}

/** Parses one expression or throws AssertionSyntaxError saying what is wrong. */
export function parseAssertion(text: string): Assertion {
  const m = EXPRESSION.exec(text);
  if (!m) throw new AssertionSyntaxError(`cannot parse assertion "${text}": expected <metric><op><number>[unit], e.g. fanout_p99<250ms or lost==0 (ops: < <= > >= == !=)`);
  const metric = m[1]!.toLowerCase();
  const op = m[2] as Comparison;
  let value = Number(m[3]);
  const unit = m[4];
  if (!isKnownMetric(metric)) {
    throw new AssertionSyntaxError(
      `unknown metric "${metric}" in "${text}"; counters: ${COUNTER_METRICS.join(', ')}; latencies: <${LATENCY_FAMILIES.join('|')}>_<${SUMMARY_STATS.join('|')}>`,
    );
  }
  if (unit !== undefined) {
    if (unit === '%') value /= 100;
    else if (isLatency(metric)) value *= TIME_UNITS[unit.toLowerCase()] ?? TIME_UNITS[unit]!;
    else throw new AssertionSyntaxError(`"${metric}" is not a duration, so it takes no time unit (in "${text}")`);
  }
  if (!Number.isFinite(value)) throw new AssertionSyntaxError(`not a finite number in "${text}"`);
  return { text: text.trim(), metric, op, value };
}

export function compare(actual: number, op: Comparison, expected: number): boolean {
  switch (op) {
    case '<':
      return actual < expected;
    case '<=':
      return actual <= expected;
    case '>':
      return actual > expected;
    case '>=':
      return actual >= expected;
    case '==':
      return actual === expected;
    case '!=':
      return actual !== expected;
  }
}

/** Evaluates every assertion; a metric the run did not produce fails its assertion. */
export function evaluateAssertions(assertions: readonly Assertion[], metrics: Readonly<Record<string, number>>): AssertionResult[] {
  return assertions.map((a) => {
    const actual = metrics[a.metric];
    return { text: a.text, ok: actual !== undefined && compare(actual, a.op, a.value), actual };
  });
}
