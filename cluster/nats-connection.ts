// The one NATS connection a node opens (nats.js), made here so that only
// cluster/ imports @nats-io/*. Reconnects without end: a node cut off from
// NATS keeps trying, while its leases (cluster/leases.ts) stop it serving.
import { type NatsConnection, connect } from '@nats-io/transport-node';

export type { NatsConnection };

export interface NatsConnectionOptions {
  /** One URL or several, comma-separated (GUILDHALL_NATS_URL). */
  servers: string;
  /** Shown by the NATS server's monitoring (connz): the node id. */
  name: string;
  /** Told of each disconnect and reconnect. */
  onStatus?: (status: { type: string; server?: string }) => void;
}

export async function connectNats(options: NatsConnectionOptions): Promise<NatsConnection> {
  const nats = await connect({
    servers: options.servers.split(',').map((s) => s.trim()),
    name: options.name,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 250,
    // nats.js otherwise makes an Error (a stack trace) for every request up front, in case it times out:
    // every KV heartbeat, scan read and lease renewal paid for one. Failures here are counted, not traced.
    noAsyncTraces: true,
  });
  const onStatus = options.onStatus;
  if (onStatus !== undefined) {
    void (async () => {
      for await (const s of nats.status()) {
        if (s.type === 'disconnect' || s.type === 'reconnect') onStatus({ type: s.type, server: 'server' in s ? String(s.server) : undefined });
      }
    })().catch(() => {});
  }
  return nats;
}
