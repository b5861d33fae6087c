// One cluster node in its own process, for the cross-process tests and
// bench:actors: an ActorSystem wired like the server (server/actor-runtime.ts)
// plus the NATS remote router, driven by its parent over IPC.
//
//   node --import tsx test/support/cluster-node.ts   (spawned by test/support/cluster.ts)
//
// Parent -> child: { id, cmd, args }; child -> parent: { id, ok, value } or
// { id, ok: false, code, message }, and events { event: 'down', ... }.
import { ROOT_CONTEXT, SpanKind, context, trace } from '@opentelemetry/api';
import { connect } from '@nats-io/transport-node';
import { Registry } from 'prom-client';
import { ActorSystem, type ActorRef, type Address, type Behaviour, isActorError } from '../../actors/index.js';
import { NatsRemoteRouter } from '../../cluster/index.js';
import { Transport, startTracing } from '../../tracing/index.js';
import { wireRelay } from '../../server/actor-runtime.js';
import { ActorMetrics } from '../../server/metrics/actor-metrics.js';

interface Init {
  node: string;
  prefix: string;
  heartbeatMs: number;
  downAfterMs: number;
  /** OTLP/gRPC endpoint spans go to. */
  otlpUrl?: string;
  /** Tracing on without an endpoint: spans are made and dropped (bench:actors). Off when neither is given. */
  tracing?: boolean;
  natsUrl: string;
}

type Msg =
  | { type: 'echo'; v: unknown }
  | { type: 'sleep'; ms: number }
  | { type: 'crash' }
  | { type: 'broadcast'; targets: ActorRef[]; text: string }
  | { type: 'hello'; text: string }
  | { type: 'stop' };

/** What each actor saw: its id, the message, and the trace it was handled in. */
const received: { id: string; text: string; traceId?: string; sampled: boolean }[] = [];
let counted = 0;

type WorkerP = { call: Msg; cast: Msg; reply: unknown };

function actor(): Behaviour<null, WorkerP> {
  return {
    kind: 'worker',
    init: () => null,
    async handleCall(msg, _state, ctx) {
      switch (msg.type) {
        case 'echo':
          return msg.v;
        case 'sleep':
          await new Promise((r) => setTimeout(r, msg.ms));
          return 'slept';
        case 'crash':
          throw new Error('asked to crash');
        case 'broadcast':
          return system.broadcast(msg.targets, { type: 'hello', text: msg.text });
        default:
          return ctx.id;
      }
    },
    handleCast(msg, _state, ctx) {
      if (msg.type === 'stop') return ctx.stop();
      if (msg.type !== 'hello') return;
      counted++;
      if (msg.text === 'count') return;
      const sc = trace.getActiveSpan()?.spanContext();
      received.push({ id: ctx.id, text: msg.text, traceId: sc?.traceId, sampled: sc !== undefined && (sc.traceFlags & 1) === 1 });
    },
  };
}

let system!: ActorSystem;
let router!: NatsRemoteRouter;
let tracing!: ReturnType<typeof startTracing>;

const send = (m: object) => process.send!(m);

async function init(a: Init): Promise<unknown> {
  system = new ActorSystem({ node: a.node, onError: () => {} });
  const env: NodeJS.ProcessEnv = a.otlpUrl
    ? { OTEL_EXPORTER_OTLP_ENDPOINT: a.otlpUrl, OTEL_BSP_SCHEDULE_DELAY: '50', OTEL_SERVICE_NAME: 'guildhall-test' }
    : a.tracing
      ? {}
      : { OTEL_SDK_DISABLED: 'true' };
  tracing = startTracing({ env, serviceInstanceId: a.node });
  const transport = new Transport(system, { tracer: tracing.tracer, sampler: tracing.sampler, enabled: tracing.enabled, contextManager: tracing.contextManager });
  wireRelay(system, { metrics: new ActorMetrics(new Registry(), system), transport });
  const nats = await connect({ servers: a.natsUrl });
  router = await new NatsRemoteRouter({ system, nats, prefix: a.prefix, heartbeatMs: a.heartbeatMs, downAfterMs: a.downAfterMs }).start();
  return a.node;
}

const ref = (a: Address) => system.refFor<WorkerP>(a);

/** IPC carries addresses; a broadcast request's targets become refs here (and cross again as addresses). */
function prepare(msg: Msg): Msg {
  if (msg.type !== 'broadcast') return msg;
  return { ...msg, targets: (msg.targets as unknown as Address[]).map((a) => ref(a) as unknown as ActorRef) };
}

async function run(cmd: string, args: Record<string, unknown>): Promise<unknown> {
  switch (cmd) {
    case 'init':
      return init(args as unknown as Init);
    case 'spawn':
      for (const key of args.keys as string[]) system.spawn(actor(), { key });
      return system.size;
    case 'cast':
      return ref(args.to as Address).cast(args.msg as Msg);
    case 'call':
      return ref(args.to as Address).call(prepare(args.msg as Msg), { timeoutMs: args.timeoutMs as number | undefined });
    case 'sampledCall': {
      // A sampled root here, the call inside it: one trace across the processes it reaches.
      const root = tracing.tracer.startSpan('test root', { kind: SpanKind.INTERNAL });
      try {
        return await context.with(trace.setSpan(ROOT_CONTEXT, root), () => ref(args.to as Address).call(prepare(args.msg as Msg), { timeoutMs: 5_000 }));
      } finally {
        root.end();
      }
    }
    case 'broadcast': {
      const targets = (args.targets as Address[]).map(ref);
      const before = router.stats.framesSent;
      const r = system.broadcast(targets, { type: 'hello', text: args.text as string });
      // The outbox sends once the microtasks queued so far have run.
      await Promise.resolve();
      return { ...r, frames: router.stats.framesSent - before };
    }
    case 'monitor': {
      const address = args.address as Address;
      system.monitor(ref(address), (reason) => send({ event: 'down', address, reason, at: Date.now() }));
      return true;
    }
    case 'received':
      return received;
    case 'counted':
      return counted;
    case 'stats':
      return router.stats;
    case 'flush':
      await tracing.provider?.forceFlush();
      return true;
    case 'close':
      await router.close();
      await tracing.shutdown(2_000);
      return true;
    default:
      throw new Error(`unknown command ${cmd}`);
  }
}

process.on('message', (m: { id: number; cmd: string; args: Record<string, unknown> }) => {
  run(m.cmd, m.args).then(
    (value) => send({ id: m.id, ok: true, value: value === undefined ? null : value }),
    (err: unknown) => send({ id: m.id, ok: false, code: isActorError(err) ? err.code : 'ERROR', message: String((err as Error)?.message ?? err) }),
  );
});
// The parent going away ends the child: nothing outlives a test run.
process.on('disconnect', () => process.exit(0));
send({ event: 'ready' });
