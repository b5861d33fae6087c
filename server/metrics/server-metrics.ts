// Everything GET /metrics shows, on a registry of this server's own (tests run
// several servers in one process; prom-client's global registry would mix them).
//
// Hot-path rules (see actor-metrics.ts for the per-message part):
// - gateway writes bump plain integers on `gateway` (no prom-client call per frame);
// - a broadcast makes one histogram observation, whatever its size;
// - everything else (sessions, close codes, span export, trace store, debug
//   windows) is read from the objects that already count it, at scrape time.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { TraceFlags, trace } from '@opentelemetry/api';
import { Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { ActorSystem } from '../../actors/index.js';
import type { BatchProcessorStats, TailStats, TraceStore, Tracing } from '../../tracing/index.js';
import type { GatewayStats } from '../gateway/gateway-stats.js';
import { stdoutLogDestination } from '../log-destination.js';
import { ActorMetrics } from './actor-metrics.js';
import { CheapHistogram, type HistogramCell } from './cheap-histogram.js';
import { registerEventLoopDelay } from './event-loop-delay.js';
import { scrapedCounter, scrapedGauge } from './scrape.js';

/** Bumped by every gateway connection as it writes (plain integers: read at scrape). */
export interface GatewayCounters {
  /** DISPATCH frames (op 0) written. */
  dispatches: number;
  /** All text frames written (dispatches, HELLO, HEARTBEAT_ACK, ...). */
  frames: number;
  /** Payload bytes of those frames. */
  bytes: number;
  /** Closes started by the client, by close code. */
  clientCloses: Record<number, number>;
}

export interface MetricSources {
  system: ActorSystem;
  tracing: Tracing;
  /** The built-in viewer's store and the processor that feeds it. */
  traceStore: TraceStore;
  viewerExport: () => BatchProcessorStats;
  /** Identified sessions now. */
  sessions: () => number;
  /** Undefined until the gateway is attached. */
  gateway: () => GatewayStats | undefined;
  debugWindows: () => number;
  /** Tail capture's counts (slow deliveries and guild messages). */
  tail: () => TailStats;
}

// prom-client's own event-loop histogram cannot be left out of its default
// metrics; at a 1 s period its timer costs nothing. Its gauges are replaced by
// event-loop-delay.ts's (10 Hz, the sampling period taken out).
const PROM_CLIENT_LOOP_SAMPLE_MS = 1000;

const FANOUT_BUCKETS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10_000, 20_000, 50_000, 100_000];
// 15 and 20 ms: the write path's target is an ack p99 of 20 ms, which a 10-25 ms bucket could not judge.
const HTTP_BUCKETS = [0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.015, 0.02, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** prom-client's typings omit the constructor's content type argument; the class takes it (lib/registry.js). */
function openMetricsRegistry(): Registry {
  const ctor = Registry as unknown as new (contentType: string) => Registry;
  return new ctor(Registry.OPENMETRICS_CONTENT_TYPE);
}

export class ServerMetrics {
  // OpenMetrics at rest: prom-client refuses exemplar-enabled metrics on any other registry (render() switches per scrape).
  readonly registry = openMetricsRegistry();
  readonly actors: ActorMetrics;
  readonly gateway: GatewayCounters = { dispatches: 0, frames: 0, bytes: 0, clientCloses: {} };
  private readonly fanoutSize: HistogramCell;
  private fanoutDeliveries = 0;
  private fanoutKept = 0;
  private readonly http: Histogram<'method' | 'route' | 'status_code'>;
  /** The render in progress: renders run one at a time (see render()). */
  private rendering: Promise<unknown> = Promise.resolve();
  private readonly stopLoopDelay: () => void;

  /** Stops the event-loop delay sampler's timer. */
  close(): void {
    this.stopLoopDelay();
  }

  constructor(sources: MetricSources) {
    const r = this.registry;
    collectDefaultMetrics({ register: r, eventLoopMonitoringPrecision: PROM_CLIENT_LOOP_SAMPLE_MS });
    this.stopLoopDelay = registerEventLoopDelay(r);
    this.actors = new ActorMetrics(r, sources.system);

    this.fanoutSize = new CheapHistogram(r, 'guildhall_fanout_size', 'Recipients per broadcast (one observation per fanout)', FANOUT_BUCKETS).cell();
    scrapedCounter(r, 'guildhall_fanout_deliveries_total', 'Deliveries made by broadcasts', [], () => this.fanoutDeliveries);
    scrapedCounter(r, 'guildhall_fanout_kept_deliveries_total', 'Broadcast deliveries kept in a trace by fanout sampling (about K per sampled broadcast)', [], () => this.fanoutKept);

    this.http = new Histogram({
      name: 'guildhall_http_request_duration_seconds',
      help: 'REST and operator requests, from arrival to the response sent, by route pattern',
      labelNames: ['method', 'route', 'status_code'],
      buckets: HTTP_BUCKETS,
      registers: [r],
      // A request traced (and sampled) leaves its trace id on its bucket, for the OpenMetrics format.
      enableExemplars: true,
    });

    // Process-wide: every server of a process logs to the same stdout.
    scrapedCounter(r, 'guildhall_log_lines_dropped_total', 'Log lines dropped because stdout was not keeping up (or was gone)', [], () => stdoutLogDestination().dropped);

    const gw = sources.gateway;
    scrapedGauge(r, 'guildhall_gateway_connections', 'Open gateway WebSocket connections', [], () => gw()?.connections ?? 0);
    scrapedGauge(r, 'guildhall_gateway_sessions', 'Identified gateway sessions (including detached ones waiting for RESUME)', [], sources.sessions);
    scrapedCounter(r, 'guildhall_gateway_connections_accepted_total', 'Gateway WebSocket upgrades accepted', [], () => gw()?.accepted ?? 0);
    scrapedCounter(r, 'guildhall_gateway_dispatches_sent_total', 'DISPATCH events written to gateway sockets', [], () => this.gateway.dispatches);
    scrapedCounter(r, 'guildhall_gateway_frames_sent_total', 'Text frames written to gateway sockets (dispatches and other ops)', [], () => this.gateway.frames);
    scrapedCounter(r, 'guildhall_gateway_bytes_sent_total', 'Payload bytes of the text frames written to gateway sockets', [], () => this.gateway.bytes);
    scrapedCounter(r, 'guildhall_gateway_slow_consumer_disconnects_total', 'Sessions closed (4000, resumable) because their socket buffered too much', [], () => gw()?.slowConsumers ?? 0);
    scrapedCounter(r, 'guildhall_gateway_closes_total', 'Gateway connections closed, by close code and by who closed (server or client)', ['code', 'by'], () => [
      ...Object.entries(gw()?.closes ?? {}).map(([code, n]) => [{ code, by: 'server' }, n] as const),
      ...Object.entries(this.gateway.clientCloses).map(([code, n]) => [{ code, by: 'client' }, n] as const),
    ]);

    // Spans: "otlp" is the collector export (absent without one), "viewer" the built-in store's feed.
    const exporters = () => {
      const out: [string, BatchProcessorStats][] = [['viewer', sources.viewerExport()]];
      const otlp = sources.tracing.exportStats();
      if (otlp) out.push(['otlp', otlp]);
      return out;
    };
    const perExporter = (pick: (s: BatchProcessorStats) => number) => () => (sources.tracing.enabled ? exporters().map(([exporter, s]) => [{ exporter }, pick(s)] as const) : []);
    scrapedCounter(r, 'guildhall_spans_exported_total', 'Spans delivered, by exporter (otlp: the collector; viewer: the built-in trace store)', ['exporter'], perExporter((s) => s.exported));
    scrapedCounter(r, 'guildhall_spans_dropped_total', 'Spans dropped because the export queue was full, by exporter', ['exporter'], perExporter((s) => s.dropped));
    scrapedCounter(r, 'guildhall_spans_failed_total', 'Spans lost to export errors, refusals and timeouts, by exporter', ['exporter'], perExporter((s) => s.failed));
    scrapedGauge(r, 'guildhall_span_export_queue_length', 'Spans waiting for export now, by exporter', ['exporter'], perExporter((s) => s.queueLength));
    scrapedGauge(r, 'guildhall_trace_store_traces', 'Traces held by the built-in viewer', [], () => sources.traceStore.stats().traces);
    scrapedGauge(r, 'guildhall_trace_store_spans', 'Spans held by the built-in viewer', [], () => sources.traceStore.stats().spans);
    scrapedCounter(r, 'guildhall_trace_store_evicted_traces_total', 'Whole traces evicted from the built-in viewer to stay within its size', [], () => sources.traceStore.stats().evictedTraces);
    scrapedCounter(r, 'guildhall_tail_spans_total', 'Spans recorded by tail capture: slow broadcast deliveries and guild messages that waited past GUILDHALL_SLOW_DELIVERY_MS', [], () => sources.tail().recorded);
    scrapedCounter(r, 'guildhall_tail_spans_limited_total', 'Slow messages that got no tail span because GUILDHALL_SLOW_DELIVERY_MAX_PER_S was spent (counted, never queued)', [], () => sources.tail().limited);
    scrapedGauge(r, 'guildhall_debug_sampling_windows', 'Guilds being traced in full by a debug window now', [], sources.debugWindows);
  }

  /** One broadcast: its size and how many deliveries were kept in the trace. */
  fanout(size: number, kept: number): void {
    this.fanoutDeliveries += size;
    this.fanoutKept += kept;
    this.fanoutSize.observe(size);
  }

  /** Times every request by its route pattern (never the raw URL: that would be unbounded). */
  registerHttp(app: FastifyInstance): void {
    app.addHook('onResponse', (request: FastifyRequest, reply: FastifyReply, done: () => void) => {
      const route = request.routeOptions.url ?? 'unmatched';
      const labels = { method: request.method, route, status_code: String(reply.statusCode) };
      // The ingress span has ended by now; its context says whether it was sampled.
      const sc = request.ingressContext === null ? undefined : trace.getSpanContext(request.ingressContext);
      const sampled = sc !== undefined && (sc.traceFlags & TraceFlags.SAMPLED) !== 0;
      // prom-client types exemplar labels as the metric's own label names; trace_id is an exemplar's.
      const exemplarLabels = sampled ? ({ trace_id: sc.traceId } as unknown as typeof labels) : undefined;
      this.http.observe(exemplarLabels === undefined ? { labels, value: reply.elapsedTime / 1000 } : { labels, value: reply.elapsedTime / 1000, exemplarLabels });
      done();
    });
  }

  /**
   * The exposition in Prometheus text (the default) or, for a scraper that
   * asks, OpenMetrics with exemplars. prom-client fixes the format per
   * registry and, rendering OpenMetrics, renames counters in place (it strips
   * `_total`); so the format is set and the names restored around one render
   * at a time.
   */
  async render(format: 'prometheus' | 'openmetrics' = 'prometheus'): Promise<{ contentType: string; text: string }> {
    const contentType: string = format === 'openmetrics' ? Registry.OPENMETRICS_CONTENT_TYPE : Registry.PROMETHEUS_CONTENT_TYPE;
    const run = async () => {
      const metrics = this.registry.getMetricsAsArray();
      const names = metrics.map((m) => m.name);
      this.registry.setContentType(contentType as never);
      try {
        return { contentType, text: await this.registry.metrics() };
      } finally {
        this.registry.setContentType(Registry.OPENMETRICS_CONTENT_TYPE as never);
        metrics.forEach((m, i) => ((m as { name: string }).name = names[i]!));
      }
    };
    const result = this.rendering.then(run, run);
    this.rendering = result.catch(() => undefined);
    return result;
  }
}
