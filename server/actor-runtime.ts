// The relay wiring of the actor runtime, in one place: the server
// (server/app.ts) and bench:actors both call this, so the benchmark measures
// exactly what production runs. Order matters: metrics first (outermost
// inbound hook, so its handling time includes the Transport's span work),
// then the Transport (outbound, inbound and fanout hooks, and with tail
// capture the relay's slow-message watch).
import type { ActorSystem } from '../actors/index.js';
import type { Transport } from '../tracing/index.js';
import type { ActorMetrics } from './metrics/actor-metrics.js';

export interface RelayWiring {
  metrics: ActorMetrics;
  transport: Transport;
}

/** Installs the server's interceptors on `system`'s relay; returns a function that removes them. */
export function wireRelay(system: ActorSystem, { metrics, transport }: RelayWiring): () => void {
  const removeMetrics = system.relay.use(metrics);
  transport.install();
  return () => {
    transport.remove();
    removeMetrics();
  };
}
