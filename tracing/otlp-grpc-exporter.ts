// The OTLP/gRPC span exporter: OpenTelemetry's own (its transport, retries,
// headers, compression, TLS and OTEL_EXPORTER_OTLP_* handling), with our
// one-pass encoder in place of its serializer (see otlp-protobuf.ts), and each
// span encoded as it ends (prepare(), called by CountingBatchSpanProcessor).
//
// Built as @opentelemetry/exporter-trace-otlp-grpc builds OTLPTraceExporter
// (0.223.x), through the public createOtlpGrpcExportDelegate. The OTLP packages
// are pinned to one exact version in package.json because this call's
// signature is theirs.
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import type { OTLPGRPCExporterConfigNode } from '@opentelemetry/otlp-grpc-exporter-base';
import { convertLegacyOtlpGrpcOptions, createOtlpGrpcExportDelegate } from '@opentelemetry/otlp-grpc-exporter-base';
import { OTLPExporterBase } from '@opentelemetry/otlp-exporter-base';
import { type IExportTraceServiceResponse, type ISerializer, ProtobufTraceSerializer, TraceExporterMetricsHelper } from '@opentelemetry/otlp-transformer';
import type { PreparingSpanExporter } from './batch-processor.js';
import { type EncodedSpan, type ExportableSpan, encodeSpan, encodeTraceExportRequest } from './otlp-protobuf.js';

/** Our encoding for requests; OpenTelemetry's decoding for the collector's answers. */
export const traceExportSerializer: ISerializer<ExportableSpan[], IExportTraceServiceResponse> = {
  serializeRequest: encodeTraceExportRequest,
  deserializeResponse: (data) => ProtobufTraceSerializer.deserializeResponse(data),
};

export class OtlpGrpcSpanExporter extends OTLPExporterBase<ExportableSpan[]> implements PreparingSpanExporter<EncodedSpan> {
  constructor(config: OTLPGRPCExporterConfigNode = {}) {
    super(
      createOtlpGrpcExportDelegate(
        convertLegacyOtlpGrpcOptions(config, 'TRACES'),
        traceExportSerializer,
        'otlp_grpc_span_exporter',
        TraceExporterMetricsHelper,
        undefined,
        'TraceExportService',
        '/opentelemetry.proto.collector.trace.v1.TraceService/Export',
      ),
    );
  }

  /** Encodes `span` as it ends: what the batch holds until export, in place of the span. */
  prepare(span: ReadableSpan): EncodedSpan {
    return encodeSpan(span);
  }
}
