// A real OTLP/gRPC trace receiver for tests. It speaks the same wire protocol
// as an OpenTelemetry Collector (TraceService/Export over HTTP/2), so tests can
// point the production OTLPTraceExporter at it and assert on what actually
// crossed the socket, instead of trusting an in-process mock.
//
// The .proto files under ./proto are a vendored subset of opentelemetry-proto v1;
// they are loaded at runtime with @grpc/proto-loader, so a field-number mistake
// there would show up as garbled decodes in the receiver's own test.
import { fileURLToPath } from 'node:url';
import {
  Server,
  ServerCredentials,
  loadPackageDefinition,
  type GrpcObject,
  type ServerUnaryCall,
  type ServiceClientConstructor,
  type sendUnaryData,
  type status as GrpcStatus,
} from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';

/** An attribute value after decoding: AnyValue flattened to plain JS. */
export type ReceivedValue =
  | string
  | number
  | boolean
  | null
  | ReceivedValue[]
  | { [key: string]: ReceivedValue };

export type ReceivedAttributes = Record<string, ReceivedValue>;

export interface ReceivedEvent {
  name: string;
  timeUnixNano: string;
  attributes: ReceivedAttributes;
}

/** One span as the collector saw it, with ids in lowercase hex like the W3C traceparent. */
export interface ReceivedSpan {
  traceId: string;
  spanId: string;
  /** '' for a root span (OTLP sends no parent_span_id bytes). */
  parentSpanId: string;
  traceState: string;
  name: string;
  /** OTLP SpanKind: 1 INTERNAL, 2 SERVER, 3 CLIENT, 4 PRODUCER, 5 CONSUMER (API SpanKind + 1). */
  kind: number;
  /** The W3C trace flags plus OTLP's is-remote bits. */
  flags: number;
  attributes: ReceivedAttributes;
  /** Attributes of the enclosing Resource (service.name and friends). */
  resource: ReceivedAttributes;
  scope: { name: string; version: string };
  /** Unix nanoseconds as decimal strings: fixed64 does not fit a JS number. */
  startTimeUnixNano: string;
  endTimeUnixNano: string;
  /** OTLP StatusCode: 0 UNSET, 1 OK, 2 ERROR. */
  status: { code: number; message: string };
  events: ReceivedEvent[];
}

export interface OtlpReceiverOptions {
  /** Hold every Export call this long before answering: a slow collector. */
  delayMs?: number;
  /** Answer every Export call with this gRPC status: a refusing collector. */
  failWith?: GrpcStatus;
}

export interface OtlpReceiver {
  /** Pass as `url` to OTLPTraceExporter. */
  readonly url: string;
  readonly port: number;
  /** Every span received so far, flattened out of resourceSpans/scopeSpans. */
  spans(): ReceivedSpan[];
  /** Export calls received, including refused ones. */
  readonly requests: number;
  /** Resolves with the received spans once `predicate` holds; rejects after `timeoutMs`. */
  waitForSpans(predicate: (spans: ReceivedSpan[]) => boolean, timeoutMs?: number): Promise<ReceivedSpan[]>;
  close(): Promise<void>;
}

// ---- decoded protobuf shapes (proto-loader with keepCase, longs as String, oneofs) ----

interface PbAnyValue {
  value?: 'string_value' | 'bool_value' | 'int_value' | 'double_value' | 'array_value' | 'kvlist_value' | 'bytes_value';
  string_value?: string;
  bool_value?: boolean;
  int_value?: string;
  double_value?: number;
  array_value?: { values?: PbAnyValue[] };
  kvlist_value?: { values?: PbKeyValue[] };
  bytes_value?: Buffer;
}
interface PbKeyValue {
  key: string;
  value?: PbAnyValue | null;
}
interface PbSpan {
  trace_id: Buffer;
  span_id: Buffer;
  trace_state: string;
  parent_span_id: Buffer;
  flags: number;
  name: string;
  kind: number;
  start_time_unix_nano: string;
  end_time_unix_nano: string;
  attributes?: PbKeyValue[];
  events?: { time_unix_nano: string; name: string; attributes?: PbKeyValue[] }[];
  status?: { code: number; message: string } | null;
}
interface PbExportRequest {
  resource_spans?: {
    resource?: { attributes?: PbKeyValue[] } | null;
    scope_spans?: { scope?: { name: string; version: string } | null; spans?: PbSpan[] }[];
  }[];
}

const PROTO_ROOT = fileURLToPath(new URL('./proto', import.meta.url));
const SERVICE_PROTO = 'opentelemetry/proto/collector/trace/v1/trace_service.proto';

let cachedService: ServiceClientConstructor | undefined;

function traceService(): ServiceClientConstructor {
  if (cachedService) return cachedService;
  const definition = loadSync(SERVICE_PROTO, {
    includeDirs: [PROTO_ROOT],
    keepCase: true,
    // fixed64 nanoseconds and int64 attributes exceed 2^53: keep them exact as strings.
    longs: String,
    // Enums as their numeric values, which is what OTLP/JSON and the SDK use too.
    enums: Number,
    // Buffers for bytes; converted to hex below, the form every trace UI shows.
    defaults: true,
    oneofs: true,
  });
  const root = loadPackageDefinition(definition);
  const ns = ['opentelemetry', 'proto', 'collector', 'trace', 'v1'].reduce<GrpcObject>(
    (obj, key) => obj[key] as GrpcObject,
    root,
  );
  cachedService = ns['TraceService'] as ServiceClientConstructor;
  return cachedService;
}

function decodeValue(v: PbAnyValue | null | undefined): ReceivedValue {
  if (!v) return null;
  switch (v.value) {
    case 'string_value':
      return v.string_value ?? '';
    case 'bool_value':
      return v.bool_value ?? false;
    case 'int_value': {
      // The SDK sends every integral JS number as int_value; give it back as a
      // number unless that would lose precision.
      const n = Number(v.int_value);
      return Number.isSafeInteger(n) ? n : (v.int_value ?? '0');
    }
    case 'double_value':
      return v.double_value ?? 0;
    case 'array_value':
      return (v.array_value?.values ?? []).map(decodeValue);
    case 'kvlist_value':
      return decodeAttributes(v.kvlist_value?.values);
    case 'bytes_value':
      return v.bytes_value ? v.bytes_value.toString('hex') : '';
    default:
      return null;
  }
}

function decodeAttributes(kvs: PbKeyValue[] | undefined): ReceivedAttributes {
  const out: ReceivedAttributes = {};
  for (const kv of kvs ?? []) out[kv.key] = decodeValue(kv.value);
  return out;
}

function flatten(request: PbExportRequest): ReceivedSpan[] {
  const out: ReceivedSpan[] = [];
  for (const rs of request.resource_spans ?? []) {
    const resource = decodeAttributes(rs.resource?.attributes);
    for (const ss of rs.scope_spans ?? []) {
      const scope = { name: ss.scope?.name ?? '', version: ss.scope?.version ?? '' };
      for (const s of ss.spans ?? []) {
        out.push({
          traceId: s.trace_id.toString('hex'),
          spanId: s.span_id.toString('hex'),
          parentSpanId: s.parent_span_id.toString('hex'),
          traceState: s.trace_state,
          name: s.name,
          kind: s.kind,
          flags: s.flags,
          attributes: decodeAttributes(s.attributes),
          resource,
          scope,
          startTimeUnixNano: s.start_time_unix_nano,
          endTimeUnixNano: s.end_time_unix_nano,
          status: { code: s.status?.code ?? 0, message: s.status?.message ?? '' },
          events: (s.events ?? []).map((e) => ({
            name: e.name,
            timeUnixNano: e.time_unix_nano,
            attributes: decodeAttributes(e.attributes),
          })),
        });
      }
    }
  }
  return out;
}

/** Starts a receiver on 127.0.0.1 with an ephemeral port. */
export async function startOtlpReceiver(opts: OtlpReceiverOptions = {}): Promise<OtlpReceiver> {
  const received: ReceivedSpan[] = [];
  let requests = 0;
  // Delayed answers are tracked so close() does not leave timers keeping the process alive.
  const pending = new Set<NodeJS.Timeout>();

  const server = new Server();
  server.addService(traceService().service, {
    Export(call: ServerUnaryCall<PbExportRequest, unknown>, callback: sendUnaryData<unknown>) {
      requests += 1;
      const answer = () => {
        if (opts.failWith !== undefined) {
          // A refusing collector: the spans were sent but not accepted, so they are not recorded.
          callback({ code: opts.failWith, details: 'refused by test receiver' });
          return;
        }
        received.push(...flatten(call.request));
        callback(null, {});
      };
      if (opts.delayMs && opts.delayMs > 0) {
        const t = setTimeout(() => {
          pending.delete(t);
          answer();
        }, opts.delayMs);
        pending.add(t);
      } else {
        answer();
      }
    },
  });

  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (err, boundPort) =>
      err ? reject(err) : resolve(boundPort),
    );
  });

  let closed: Promise<void> | undefined;

  return {
    url: `http://127.0.0.1:${port}`,
    port,
    spans: () => received.slice(),
    get requests() {
      return requests;
    },
    async waitForSpans(predicate, timeoutMs = 5_000) {
      // Polling is acceptable here: this waits on a real socket, not on a timer under test.
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const snapshot = received.slice();
        if (predicate(snapshot)) return snapshot;
        if (Date.now() >= deadline) {
          throw new Error(`waitForSpans timed out after ${timeoutMs}ms with ${snapshot.length} spans received`);
        }
        await new Promise((r) => setTimeout(r, 10));
      }
    },
    close() {
      closed ??= new Promise<void>((resolve) => {
        for (const t of pending) clearTimeout(t);
        pending.clear();
        // Calls held by delayMs would make tryShutdown wait forever; cut them off.
        server.forceShutdown();
        resolve();
      });
      return closed;
    },
  };
}
