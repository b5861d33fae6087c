// The in-memory trace store behind the built-in trace viewer.
//
// It is a SpanExporter, so it plugs into the SDK like any backend (usually behind
// a SimpleSpanProcessor or our CountingBatchSpanProcessor) and sees exactly the
// sampled spans a real collector would. Memory is bounded twice over: at most
// `maxTraces` traces (whole traces are evicted, least recently updated first, so
// the viewer never shows half a trace that lost its beginning) and at most
// `maxSpansPerTrace` spans in one trace (a 10,000-recipient broadcast must not
// pin megabytes; spans past the cap are counted, not kept).
//
// Spans are copied into plain objects on the way in: the viewer serialises them
// to JSON, and holding SDK span objects would also hold their Resource and
// InstrumentationScope graph alive.
import { SpanKind, type Attributes, type HrTime, type SpanStatus } from '@opentelemetry/api';
import { ExportResultCode, hrTimeToMilliseconds, type ExportResult } from '@opentelemetry/core';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace-base';

/** One span as the viewer and the OTLP/JSON download see it. */
export interface StoredSpan {
  traceId: string;
  spanId: string;
  /** Absent for a span that started a trace; present (but maybe unknown here) otherwise. */
  parentSpanId?: string;
  /** Whether the parent context came over the wire (OTLP records this in span flags). */
  parentIsRemote?: boolean;
  traceState?: string;
  traceFlags: number;
  name: string;
  kind: SpanKind;
  /** Milliseconds since the Unix epoch (fractional). */
  startMs: number;
  durationMs: number;
  /** Exact Unix nanoseconds as decimal strings, for lossless export. */
  startTimeUnixNano: string;
  endTimeUnixNano: string;
  attributes: Attributes;
  status: SpanStatus;
  events: StoredEvent[];
  links: StoredLink[];
  /** `service.name` of the span's resource ('' if unset). */
  serviceName: string;
  resource: Attributes;
  scope: { name: string; version?: string; schemaUrl?: string };
  droppedAttributesCount: number;
  droppedEventsCount: number;
  droppedLinksCount: number;
}

export interface StoredEvent {
  name: string;
  timeMs: number;
  timeUnixNano: string;
  attributes: Attributes;
  droppedAttributesCount: number;
}

export interface StoredLink {
  traceId: string;
  spanId: string;
  traceState?: string;
  traceFlags: number;
  isRemote?: boolean;
  attributes: Attributes;
  droppedAttributesCount: number;
}

export interface TraceSummary {
  traceId: string;
  /** Name of the root: the earliest span whose parent is not in this trace. */
  rootName: string;
  /** Earliest span start, ms since the Unix epoch. */
  start: number;
  /** From the earliest start to the latest end among the stored spans. */
  durationMs: number;
  spanCount: number;
  /** Spans of this trace that arrived past maxSpansPerTrace and were not kept. */
  truncatedSpans: number;
  /** First value seen of the guild attribute on any span. */
  guild?: string;
  /** Largest value seen of the fanout-size attribute on any span. */
  fanoutSize?: number;
  /** Spans recorded by tail capture (slow deliveries, slow guild messages). */
  tailSpans: number;
  serviceNames: string[];
}

export interface TraceListQuery {
  guild?: string;
  /** Only traces that contain at least one tail span. */
  tail?: boolean;
  minDurationMs?: number;
  limit?: number;
}

export interface TraceStoreOptions {
  /** Traces kept; the least recently updated whole trace is evicted beyond it. Default 1000. */
  maxTraces?: number;
  /** Spans kept per trace; later non-root spans are counted and discarded. Default 2000. */
  maxSpansPerTrace?: number;
  /** Attribute that tags a span with its guild. */
  guildAttribute?: string;
  /** Attribute that records how many recipients a broadcast had. */
  fanoutSizeAttribute?: string;
  /** Attribute that is true on a span recorded by tail capture. */
  tailAttribute?: string;
}

export interface TraceStoreStats {
  traces: number;
  spans: number;
  evictedTraces: number;
  truncatedSpans: number;
}

// The attribute names are the server's conventions; they are options so that this
// layer does not have to know what a guild is, only which key to index.
const DEFAULT_GUILD_ATTRIBUTE = 'guildhall.guild.id';
const DEFAULT_FANOUT_SIZE_ATTRIBUTE = 'guildhall.fanout.size';
const DEFAULT_TAIL_ATTRIBUTE = 'guildhall.tail';
const SERVICE_NAME = 'service.name';

interface TraceEntry {
  traceId: string;
  spans: StoredSpan[];
  spanIds: Set<string>;
  truncated: number;
  guild?: string;
  fanoutSize?: number;
  tailSpans: number;
  services: Set<string>;
  startMs: number;
  endMs: number;
  /** Cached root; undefined means "recompute" (a new span may change it). */
  root?: StoredSpan | null;
}

export class TraceStore implements SpanExporter {
  private readonly maxTraces: number;
  private readonly maxSpansPerTrace: number;
  private readonly guildAttribute: string;
  private readonly fanoutSizeAttribute: string;
  private readonly tailAttribute: string;
  /** Map order is recency: an updated trace is moved to the end, eviction takes the front. */
  private readonly traces = new Map<string, TraceEntry>();
  private spanTotal = 0;
  private evicted = 0;
  private truncatedTotal = 0;
  private stopped = false;

  constructor(options: TraceStoreOptions = {}) {
    this.maxTraces = atLeastOne(options.maxTraces, 1000);
    this.maxSpansPerTrace = atLeastOne(options.maxSpansPerTrace, 2000);
    this.guildAttribute = options.guildAttribute ?? DEFAULT_GUILD_ATTRIBUTE;
    this.fanoutSizeAttribute = options.fanoutSizeAttribute ?? DEFAULT_FANOUT_SIZE_ATTRIBUTE;
    this.tailAttribute = options.tailAttribute ?? DEFAULT_TAIL_ATTRIBUTE;
  }

  export(spans: ReadableSpan[], resultCallback: (result: ExportResult) => void): void {
    if (this.stopped) {
      resultCallback({ code: ExportResultCode.FAILED, error: new Error('TraceStore has been shut down') });
      return;
    }
    for (const span of spans) this.add(toStoredSpan(span));
    resultCallback({ code: ExportResultCode.SUCCESS });
  }

  async shutdown(): Promise<void> {
    // Stop accepting, but keep what is stored: the viewer may still be reading it.
    this.stopped = true;
  }

  async forceFlush(): Promise<void> {
    // Nothing is buffered: spans are stored synchronously in export().
  }

  /** Adds one span (also usable without the SDK, e.g. for spans relayed from another node). */
  add(span: StoredSpan): void {
    let entry = this.traces.get(span.traceId);
    if (entry) {
      this.traces.delete(span.traceId);
    } else {
      entry = {
        traceId: span.traceId,
        spans: [],
        spanIds: new Set(),
        truncated: 0,
        tailSpans: 0,
        services: new Set(),
        startMs: span.startMs,
        endMs: span.startMs + span.durationMs,
      };
    }
    this.traces.set(span.traceId, entry);

    // A span without a parent is always kept even past the cap: it usually ends
    // last, and a trace without its root would be unreadable in the viewer.
    if (entry.spans.length >= this.maxSpansPerTrace && span.parentSpanId !== undefined) {
      entry.truncated += 1;
      this.truncatedTotal += 1;
    } else if (!entry.spanIds.has(span.spanId)) {
      entry.spans.push(span);
      entry.spanIds.add(span.spanId);
      entry.root = undefined;
      this.spanTotal += 1;
      entry.startMs = Math.min(entry.startMs, span.startMs);
      entry.endMs = Math.max(entry.endMs, span.startMs + span.durationMs);
      if (span.serviceName) entry.services.add(span.serviceName);
      const guild = span.attributes[this.guildAttribute];
      if (entry.guild === undefined && guild !== undefined && guild !== null) entry.guild = String(guild);
      if (span.attributes[this.tailAttribute] === true) entry.tailSpans += 1;
      const fanout = span.attributes[this.fanoutSizeAttribute];
      if (typeof fanout === 'number' && (entry.fanoutSize === undefined || fanout > entry.fanoutSize)) {
        entry.fanoutSize = fanout;
      }
    }

    while (this.traces.size > this.maxTraces) {
      const oldest = this.traces.keys().next();
      if (oldest.done) break;
      const victim = this.traces.get(oldest.value);
      this.traces.delete(oldest.value);
      this.spanTotal -= victim?.spans.length ?? 0;
      this.evicted += 1;
    }
  }

  /** Trace summaries, newest start first. */
  list(query: TraceListQuery = {}): TraceSummary[] {
    const out: TraceSummary[] = [];
    for (const entry of this.traces.values()) {
      if (query.guild !== undefined && entry.guild !== query.guild) continue;
      if (query.tail === true && entry.tailSpans === 0) continue;
      const durationMs = entry.endMs - entry.startMs;
      if (query.minDurationMs !== undefined && durationMs < query.minDurationMs) continue;
      out.push(this.summarise(entry, durationMs));
    }
    out.sort((a, b) => b.start - a.start);
    return query.limit !== undefined ? out.slice(0, Math.max(0, query.limit)) : out;
  }

  /** The stored spans of one trace in start order, or undefined if it is not (or no longer) stored. */
  get(traceId: string): StoredSpan[] | undefined {
    const entry = this.traces.get(traceId);
    if (!entry) return undefined;
    return entry.spans.slice().sort((a, b) => a.startMs - b.startMs);
  }

  stats(): TraceStoreStats {
    return {
      traces: this.traces.size,
      spans: this.spanTotal,
      evictedTraces: this.evicted,
      truncatedSpans: this.truncatedTotal,
    };
  }

  clear(): void {
    this.traces.clear();
    this.spanTotal = 0;
  }

  private summarise(entry: TraceEntry, durationMs: number): TraceSummary {
    const root = this.rootOf(entry);
    const summary: TraceSummary = {
      traceId: entry.traceId,
      rootName: root?.name ?? '',
      start: entry.startMs,
      durationMs,
      spanCount: entry.spans.length,
      truncatedSpans: entry.truncated,
      tailSpans: entry.tailSpans,
      serviceNames: [...entry.services].sort(),
    };
    if (entry.guild !== undefined) summary.guild = entry.guild;
    if (entry.fanoutSize !== undefined) summary.fanoutSize = entry.fanoutSize;
    return summary;
  }

  private rootOf(entry: TraceEntry): StoredSpan | null {
    if (entry.root !== undefined) return entry.root;
    let root: StoredSpan | null = null;
    for (const span of entry.spans) {
      const orphan = span.parentSpanId === undefined || !entry.spanIds.has(span.parentSpanId);
      if (orphan && (root === null || span.startMs < root.startMs)) root = span;
    }
    entry.root = root;
    return root;
  }
}

/** Copies an SDK span into the plain form the store keeps. */
export function toStoredSpan(span: ReadableSpan): StoredSpan {
  const ctx = span.spanContext();
  const resource = { ...span.resource.attributes };
  const serviceName = resource[SERVICE_NAME];
  const stored: StoredSpan = {
    traceId: ctx.traceId,
    spanId: ctx.spanId,
    traceFlags: ctx.traceFlags,
    name: span.name,
    kind: span.kind ?? SpanKind.INTERNAL,
    startMs: hrTimeToMilliseconds(span.startTime),
    durationMs: hrTimeToMilliseconds(span.duration),
    startTimeUnixNano: hrTimeToNanosString(span.startTime),
    endTimeUnixNano: hrTimeToNanosString(span.endTime),
    attributes: { ...span.attributes },
    status: span.status.message === undefined ? { code: span.status.code } : { ...span.status },
    events: span.events.map((e) => ({
      name: e.name,
      timeMs: hrTimeToMilliseconds(e.time),
      timeUnixNano: hrTimeToNanosString(e.time),
      attributes: { ...e.attributes },
      droppedAttributesCount: e.droppedAttributesCount ?? 0,
    })),
    links: span.links.map((l) => {
      const link: StoredLink = {
        traceId: l.context.traceId,
        spanId: l.context.spanId,
        traceFlags: l.context.traceFlags,
        attributes: { ...l.attributes },
        droppedAttributesCount: l.droppedAttributesCount ?? 0,
      };
      const state = l.context.traceState?.serialize();
      if (state) link.traceState = state;
      if (l.context.isRemote !== undefined) link.isRemote = l.context.isRemote;
      return link;
    }),
    serviceName: typeof serviceName === 'string' ? serviceName : '',
    resource,
    scope: { name: span.instrumentationScope.name },
    droppedAttributesCount: span.droppedAttributesCount,
    droppedEventsCount: span.droppedEventsCount,
    droppedLinksCount: span.droppedLinksCount,
  };
  const parent = span.parentSpanContext;
  if (parent?.spanId) {
    stored.parentSpanId = parent.spanId;
    if (parent.isRemote !== undefined) stored.parentIsRemote = parent.isRemote;
  }
  const state = ctx.traceState?.serialize();
  if (state) stored.traceState = state;
  const { version, schemaUrl } = span.instrumentationScope;
  if (version) stored.scope.version = version;
  if (schemaUrl) stored.scope.schemaUrl = schemaUrl;
  return stored;
}

/** [seconds, nanos] to exact decimal nanoseconds: the product overflows a double's integers. */
export function hrTimeToNanosString(time: HrTime): string {
  return (BigInt(Math.trunc(time[0])) * 1_000_000_000n + BigInt(Math.trunc(time[1]))).toString();
}

function atLeastOne(value: number | undefined, fallback: number): number {
  return value !== undefined && Number.isFinite(value) && value >= 1 ? Math.floor(value) : fallback;
}
