// The HTTP side shared by the benchmark's own servers (the floors and
// Socket.IO): POST /broadcast {key} sends one MESSAGE_CREATE to every
// connected socket, GET /healthz answers; the port is announced over IPC
// ({ev:'listening', port}) or on stdout when run by hand.
import { type Server, createServer } from 'node:http';
import { randomBytes } from 'node:crypto';
import { type MessageCreateSource, messageCreateSource } from './message-create.js';

/** The author of every broadcast, named as client-sim names its users. */
export const source: MessageCreateSource = messageCreateSource(`sim_${randomBytes(4).toString('hex')}_0`);

/** The content client-sim posts for `key` (client-sim/messages.ts), so payloads are the same size. */
export function contentFor(key: string): string {
  return `sim:${key} message ${key} from ${source.author.username}`;
}

/** An HTTP server whose POST /broadcast calls `broadcast(key)`, which returns the sockets written to. */
export function broadcastServer(broadcast: (key: string) => number): Server {
  return createServer((req, res) => {
    if (req.method === 'POST' && req.url === '/broadcast') {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        let key = 'x';
        try {
          key = String((JSON.parse(body) as { key?: unknown }).key ?? 'x');
        } catch {
          // a broadcast with a default key
        }
        const sockets = broadcast(key);
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ sockets }));
      });
      return;
    }
    if (req.url === '/healthz') return void res.writeHead(200).end('ok');
    res.writeHead(404).end();
  });
}

/** Listens on a free loopback port and announces it; `stop` runs on SIGTERM, SIGINT and IPC disconnect. */
export function listen(server: Server, stop: () => void): void {
  server.listen(0, '127.0.0.1', () => {
    const address = server.address();
    const port = typeof address === 'object' && address ? address.port : 0;
    process.send?.({ ev: 'listening', port });
    if (!process.send) process.stdout.write(`${JSON.stringify({ port })}\n`);
  });
  const exit = () => {
    stop();
    server.close(() => process.exit(0));
    setTimeout(() => process.exit(0), 2_000).unref();
  };
  process.on('SIGTERM', exit);
  process.on('SIGINT', exit);
  process.on('disconnect', exit);
}
