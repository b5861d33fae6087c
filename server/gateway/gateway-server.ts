// Accepts gateway WebSocket upgrades at /gateway?v=10&encoding=json on the
// HTTP server Fastify listens with, and keeps the set of live connections for
// shutdown (RECONNECT to everyone, then close).
import type { GatewayStats } from './gateway-stats.js';
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer } from 'ws';
import type { ServerContext } from '../context.js';
import { GatewayCloseCode } from '../errors.js';
import { Connection, HEARTBEAT_GRACE } from './connection.js';
import { GatewaySocket } from './gateway-socket.js';
import { HeartbeatDeadlines } from './heartbeat-deadlines.js';
import { IdentifyLimiter } from './identify-limiter.js';
import { GATEWAY_VERSION, GatewayOp } from './protocol.js';

export interface GatewayServer {
  /** Sends RECONNECT (op 7) to every connection and closes it (resumable). */
  reconnectAll(): void;
  /** New upgrades get 503 from now on (a draining node); open connections stay. */
  stopAccepting(): void;
  /** Stops accepting and tears down what is left. */
  close(): Promise<void>;
  readonly connections: number;
  stats(): GatewayStats;
}

// Frames over 4096 bytes get 4002 from the decoder; this only stops ws
// buffering something absurd before we see it (GatewaySocket turns ws's own
// close for it into 4002 as well).
const MAX_FRAME_BYTES = 64 * 1024;

function reject(socket: Duplex, status: number, text: string): void {
  // Node's HTTP server takes its error listener off a socket it hands to 'upgrade': without one of
  // ours, a client resetting the connection while we answer (common when a server is stopping)
  // would be an uncaught 'error' and end the process.
  socket.on('error', () => socket.destroy());
  socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
}

/** The request's path, or undefined for a target URL cannot read (`GET http://[ HTTP/1.1` is valid HTTP framing). */
function pathOf(req: IncomingMessage): URL | undefined {
  try {
    return new URL(req.url ?? '/', 'http://localhost');
  } catch {
    return undefined;
  }
}

export interface GatewayOptions {
  /** Ids of the other live nodes (cluster mode): where a RESUME looks for a session not running here. */
  peers?: () => readonly string[];
}

export function attachGateway(server: Server, ctx: ServerContext, options: GatewayOptions = {}): GatewayServer {
  // permessage-deflate stays off: the frame writer sends the same bytes to every socket.
  // ws's UTF-8 check is skipped because it would close with 1007 on its own; the decoder checks and answers 4002.
  const wss = new WebSocketServer({
    noServer: true,
    perMessageDeflate: false,
    maxPayload: MAX_FRAME_BYTES,
    clientTracking: false,
    skipUTF8Validation: true,
    WebSocket: GatewaySocket,
  });
  const connections = new Set<Connection>();
  const identifyLimiter = new IdentifyLimiter(ctx.config.maxConcurrency, ctx.system.clock);
  const heartbeats = new HeartbeatDeadlines(ctx.system.clock, ctx.config.heartbeatIntervalMs * HEARTBEAT_GRACE);
  let accepting = true;
  const stats = { accepted: 0, closes: {} as Record<number, number>, slowConsumers: 0 };
  const hooks = {
    onClose: (c: Connection) => connections.delete(c),
    peers: options.peers ?? (() => []),
    onServerClose(code: number, reason: string) {
      stats.closes[code] = (stats.closes[code] ?? 0) + 1;
      if (reason.includes('slow consumer')) stats.slowConsumers++;
    },
  };

  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const url = pathOf(req);
    if (url === undefined) return reject(socket, 400, 'Bad Request');
    if (url.pathname !== '/gateway' && url.pathname !== '/gateway/') return reject(socket, 404, 'Not Found');
    if (!accepting) return reject(socket, 503, 'Service Unavailable');
    wss.handleUpgrade(req, socket, head, (ws) => {
      const connection = new Connection(ws as GatewaySocket, socket, ctx, hooks, identifyLimiter, heartbeats);
      connections.add(connection);
      stats.accepted++;
      // Version and encoding are checked after the upgrade, so the client hears the close code.
      if (url.searchParams.get('v') !== String(GATEWAY_VERSION)) return connection.close(GatewayCloseCode.INVALID_API_VERSION);
      const encoding = url.searchParams.get('encoding') ?? 'json';
      if (encoding !== 'json') return connection.close(GatewayCloseCode.DECODE_ERROR, `encoding ${encoding} is not supported`);
      if (url.searchParams.has('compress')) return connection.close(GatewayCloseCode.DECODE_ERROR, 'transport compression is not supported');
      connection.start();
    });
  });

  return {
    get connections() {
      return connections.size;
    },
    stats: () => ({ connections: connections.size, accepted: stats.accepted, closes: { ...stats.closes }, slowConsumers: stats.slowConsumers }),
    stopAccepting() {
      accepting = false;
    },
    reconnectAll() {
      for (const c of connections) {
        c.sendOp(GatewayOp.RECONNECT, null);
        c.close(GatewayCloseCode.UNKNOWN_ERROR, 'server restarting');
      }
    },
    async close() {
      accepting = false;
      // Give close handshakes a moment, then drop whatever is left.
      const deadline = Date.now() + 1_000;
      while (connections.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      for (const c of connections) c.terminate();
      connections.clear();
      heartbeats.clear();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };
}
