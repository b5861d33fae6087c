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

export function createLogger(options: LoggerOptions): ServerLogger {
  return pino(
    {
      level: options.level,
      // Looked up per line, at write time: the active span is whatever context the caller runs in.
      mixin: traceFields,
      timestamp: pino.stdTimeFunctions.isoTime,
      // Fastify's default request serializer logs no headers; this is a second lock on the door.
      redact: { paths: ['req.headers.authorization', 'req.headers["x-admin-secret"]'], censor: '[redacted]' },
    },
    options.destination ?? stdoutLogDestination(),
  );
}
