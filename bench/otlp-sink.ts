// A minimal OTLP/gRPC trace receiver for the benchmark, run as its own
// process: it accepts TraceService/Export and answers success without
// decoding the spans (counting requests and bytes), so the collector side
// costs as little CPU as possible on a shared machine. The `sampled` and
// `naive` servers export to it, which makes them pay the whole export path.
//   node --import tsx bench/otlp-sink.ts      (prints {"port":N} on stdout)
import { Server, ServerCredentials, type ServiceDefinition, type UntypedServiceImplementation } from '@grpc/grpc-js';

const EXPORT = {
  path: '/opentelemetry.proto.collector.trace.v1.TraceService/Export',
  requestStream: false,
  responseStream: false,
  requestSerialize: (b: Buffer) => b,
  requestDeserialize: (b: Buffer) => b,
  // An empty ExportTraceServiceResponse is zero bytes of protobuf.
  responseSerialize: () => Buffer.alloc(0),
  responseDeserialize: () => ({}),
};

const stats = { requests: 0, bytes: 0 };
const server = new Server({ 'grpc.max_receive_message_length': 64 * 1024 * 1024 });
const service = { Export: EXPORT } as unknown as ServiceDefinition;
const impl: UntypedServiceImplementation = {
  Export(call: { request: Buffer }, callback: (err: null, res: object) => void) {
    stats.requests++;
    stats.bytes += call.request.length;
    callback(null, {});
  },
};
server.addService(service, impl);
server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (err, port) => {
  if (err) {
    process.stderr.write(`otlp-sink: ${err.message}\n`);
    process.exit(1);
  }
  process.stdout.write(`${JSON.stringify({ port })}\n`);
});

process.on('message', (msg: { cmd?: string }) => {
  if (msg?.cmd === 'stats') process.send?.({ ev: 'stats', stats });
});
const stop = () => server.tryShutdown(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
process.on('disconnect', stop);
