// REST client for the public API (/api/v10): JSON in and out, a CLIENT span
// and a `traceparent` header per request, Discord's 429 handling (wait
// `retry_after`, try again, a bounded number of times), and the latency of
// every attempt in the `rest` histogram. Against several nodes, requests go
// round-robin (node-ring.ts); a refused connection is retried on the next
// node whatever the method (the request never reached a server), and a 503
// (a guild moving between nodes: nothing was done) is retried after its
// Retry-After.
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, TraceFlags, context, trace } from '@opentelemetry/api';
import { now, sleep } from './clock.js';
import type { HistogramSet } from './histograms.js';
import { NodeRing } from './node-ring.js';
import { GATEWAY_QUERY } from './protocol.js';
import type { SimTracing } from './tracing.js';

export class RestError extends Error {
  constructor(
    readonly method: string,
    readonly path: string,
    readonly status: number,
    readonly body: unknown,
  ) {
    super(`${method} ${path} -> ${status === 0 ? 'network error' : status}${body === undefined ? '' : `: ${typeof body === 'string' ? body : JSON.stringify(body)}`.slice(0, 300)}`);
    this.name = 'RestError';
  }
}

export interface RestCounters {
  requests: number;
  errors: number;
  retries: number;
}

export interface RequestOptions {
  token?: string;
  body?: unknown;
  /** Span name and route label, e.g. `POST /channels/{id}/messages`. */
  route?: string;
  /** Also retry network errors and 5xx (only for requests that are safe to repeat). */
  idempotent?: boolean;
  /** Histogram for the attempts' latency (default `rest`; world setup uses `rest_setup`). */
  histogram?: string;
  /** This node only (GET /gateway of each node); default: the next node in turn. */
  base?: string;
  /** Called right before every attempt (the message sender re-announces its send time). */
  beforeAttempt?: (attempt: number) => void;
  /**
   * Sends the trace context with the sampled flag cleared (trace-flags 00), so
   * the server leaves this request out of its traces: a benchmark can compare
   * sampled and unsampled broadcasts in one server.
   */
  unsampled?: boolean;
}

/** 429s waited out per request at most; each waits what the server asks. */
const MAX_ATTEMPTS = 30;
/** A request that takes longer than this has failed, as far as a load test cares. */
const REQUEST_TIMEOUT_MS = 30_000;

export class RestClient {
  readonly counters: RestCounters = { requests: 0, errors: 0, retries: 0 };
  private readonly ring: NodeRing;

  /** `baseUrls`: one base URL (no trailing slash) per node. */
  constructor(
    baseUrls: string | readonly string[],
    private readonly tracing: SimTracing,
    private readonly histograms: HistogramSet,
  ) {
    this.ring = new NodeRing(typeof baseUrls === 'string' ? [baseUrls] : baseUrls);
  }

  get urls(): readonly string[] {
    return this.ring.urls;
  }

  async request<T>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
    const route = options.route ?? `${method} ${path}`;
    for (let attempt = 1; ; attempt++) {
      options.beforeAttempt?.(attempt);
      const base = options.base ?? this.ring.next();
      const outcome = await this.attempt(base, method, path, route, options);
      if (outcome.ok) return outcome.body as T;
      if (outcome.refused) this.ring.failed(base);
      const retryable = outcome.status === 429 || outcome.status === 503 || outcome.refused || (options.idempotent === true && (outcome.status === 0 || outcome.status >= 500));
      if (!retryable || attempt >= MAX_ATTEMPTS) {
        this.counters.errors++;
        throw new RestError(method, path, outcome.status, outcome.body);
      }
      this.counters.retries++;
      await sleep(outcome.status === 429 || outcome.status === 503 ? retryAfterMs(outcome.body, outcome.headers) : outcome.refused ? 20 : Math.min(2_000, 50 * 2 ** attempt));
    }
  }

  private async attempt(baseUrl: string, method: string, path: string, route: string, options: RequestOptions) {
    // Each request is its own trace root: a load run is thousands of independent user actions.
    const span = this.tracing.tracer.startSpan(route, { kind: SpanKind.CLIENT, attributes: { 'http.request.method': method, 'url.path': path } }, ROOT_CONTEXT);
    const propagated = options.unsampled ? trace.wrapSpanContext({ ...span.spanContext(), traceFlags: TraceFlags.NONE }) : span;
    const headers: Record<string, string> = { ...this.tracing.headersFor(propagated) };
    if (options.token !== undefined) headers.authorization = `Bot ${options.token}`;
    let payload: string | undefined;
    if (options.body !== undefined) {
      payload = JSON.stringify(options.body);
      headers['content-type'] = 'application/json';
    }
    this.counters.requests++;
    const started = now();
    try {
      const res = await context.with(trace.setSpan(ROOT_CONTEXT, span), () =>
        fetch(`${baseUrl}/api/v10${path}`, { method, headers, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS), ...(payload === undefined ? {} : { body: payload }) }),
      );
      const text = await res.text();
      this.histograms.record(options.histogram ?? 'rest', now() - started);
      span.setAttribute('http.response.status_code', res.status);
      if (res.status >= 400) span.setStatus({ code: SpanStatusCode.ERROR });
      let body: unknown = undefined;
      if (text !== '') {
        try {
          body = JSON.parse(text);
        } catch {
          body = text;
        }
      }
      return { ok: res.status < 300, status: res.status, body, headers: res.headers, refused: false };
    } catch (err) {
      span.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error).message });
      return { ok: false, status: 0, body: (err as Error).message, headers: new Headers(), refused: refusedConnection(err) };
    } finally {
      span.end();
    }
  }
}

/** Discord puts seconds in the body's `retry_after` and the Retry-After header. */
function retryAfterMs(body: unknown, headers: Headers): number {
  const fromBody = typeof body === 'object' && body !== null ? Number((body as { retry_after?: unknown }).retry_after) : NaN;
  const seconds = Number.isFinite(fromBody) ? fromBody : Number(headers.get('retry-after'));
  // A little over what was asked, so the bucket has refilled; never zero, never absurd.
  return Math.min(10_000, Math.max(20, (Number.isFinite(seconds) ? seconds : 1) * 1000 + 10));
}

/** Whether fetch failed because nothing accepted the connection (so nothing was sent). */
function refusedConnection(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e !== undefined && e !== null && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    if ((e as { code?: unknown }).code === 'ECONNREFUSED') return true;
  }
  return false;
}

/** Every node's gateway URL, from its own GET /gateway, with the query string a client adds. */
export async function gatewayUrls(rest: RestClient, bases: readonly string[] = rest.urls): Promise<string[]> {
  return Promise.all(
    bases.map(async (base) => {
      const g = await rest.request<{ url: string }>('GET', '/gateway', { base, route: 'GET /gateway', idempotent: true, histogram: 'rest_setup' });
      return `${g.url.replace(/\/+$/, '')}?${GATEWAY_QUERY}`;
    }),
  );
}
