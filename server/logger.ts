// The server's logger: pino, which is what Fastify logs through, so one
// instance serves both the HTTP layer (as Fastify's `loggerInstance`) and
// the rest of the server (ServerContext.logger).
//
// Every line written while a span is active carries that span's `trace_id`
// and `span_id` (and `trace_flags`), the field names of OpenTelemetry's
// log data model (https://opentelemetry.io/docs/specs/otel/logs/data-model/#field-traceid),
// so a log line can be looked up in the trace viewer and a trace's log lines
// found with one grep.
import { isSpanContextValid, trace } from '@opentelemetry/api';
import { pino, type DestinationStream, type Logger as PinoLogger } from 'pino';
import type { LogLevel } from './config.js';
import { stdoutLogDestination } from './log-destination.js';

export type ServerLogger = PinoLogger;

export interface LoggerOptions {
  level: LogLevel;
  /**
   * Where lines go; when absent, stdout through a destination that never blocks
   * (log-destination.ts; tests pass a stream to read lines back).
   */
  destination?: DestinationStream;
}

/** Trace correlation fields of the active span, or none when there is no valid one. */
export function traceFields(): { trace_id?: string; span_id?: string; trace_flags?: string } {
  const span = trace.getActiveSpan();
  if (span === undefined) return {};
  const sc = span.spanContext();
  if (!isSpanContextValid(sc)) return {};
  return { trace_id: sc.traceId, span_id: sc.spanId, trace_flags: sc.traceFlags.toString(16).padStart(2, '0') };
}

// Query parameters whose values are credentials: tokens (Discord's OAuth2 `access_token`,
// a client that puts its bot token in `?token=`), secrets, passwords, keys, OAuth `code`s.
const SECRET_PARAM = /token|secret|password|passwd|key|signature|^code$|^auth/i;

/** `url` with the values of credential-like query parameters replaced, so a token never reaches a log line. */
export function redactUrl(url: string): string {
  const q = url.indexOf('?');
  if (q < 0) return url;
  const query = url
    .slice(q + 1)
    .split('&')
    .map((pair) => {
      const eq = pair.indexOf('=');
      if (eq < 0) return pair;
      let name = pair.slice(0, eq);
      try {
        name = decodeURIComponent(name.replace(/\+/g, ' '));
      } catch {
        // A malformed escape: judge the name as written.
      }
      return SECRET_PARAM.test(name) ? `${pair.slice(0, eq)}=[redacted]` : pair;
    })
    .join('&');
  return `${url.slice(0, q)}?${query}`;
}

interface LoggedRequest {
  method?: string;
  url?: string;
  host?: string;
  ip?: string;
  socket?: { remotePort?: number };
}

export function createLogger(options: LoggerOptions): ServerLogger {
  return pino(
    {
      level: options.level,
      // Looked up per line, at write time: the active span is whatever context the caller runs in.
      mixin: traceFields,
      timestamp: pino.stdTimeFunctions.isoTime,
      serializers: {
        // Fastify's request fields, with the URL's credentials redacted (issue 16: `?token=` was logged).
        // Fastify merges its own serializers under these, so this one wins for `req`.
        req: (req: LoggedRequest) => ({
          method: req.method,
          url: typeof req.url === 'string' ? redactUrl(req.url) : req.url,
          host: req.host,
          remoteAddress: req.ip,
          remotePort: req.socket?.remotePort,
        }),
      },
      // Fastify's default request serializer logs no headers; this is a second lock on the door.
      redact: { paths: ['req.headers.authorization', 'req.headers["x-admin-secret"]'], censor: '[redacted]' },
    },
    options.destination ?? stdoutLogDestination(),
  );
}
