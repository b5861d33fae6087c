// The floor: the least a Node process can do to broadcast. It accepts
// WebSocket connections (ws does the handshake and reads), and on
// POST /broadcast serialises one MESSAGE_CREATE-like dispatch once, frames it
// once, and writes the same bytes to every socket. No actors, no sessions, no
// per-recipient sequence numbers, no tracing: what Guildhall costs above this
// is the price of being a chat server.
//   node --import tsx bench/floor-server.ts     (IPC: sends {ev:'listening', port})
import { randomBytes } from 'node:crypto';
import { type IncomingMessage, createServer } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer } from 'ws';

const sockets = new Set<Duplex>();
const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false, clientTracking: false });
let nextId = 1_500_000_000_000_000_000n;

/** An unmasked text frame (RFC 6455 §5.2) around `payload`. */
function frame(payload: Buffer): Buffer {
  const n = payload.length;
  const header = n < 126 ? Buffer.from([0x81, n]) : n < 65_536 ? Buffer.from([0x81, 126, n >> 8, n & 0xff]) : Buffer.concat([Buffer.from([0x81, 127]), bigLength(n)]);
  return Buffer.concat([header, payload]);
}

function bigLength(n: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(BigInt(n));
  return b;
}

const author = { id: '1500000000000000001', username: `sim_${randomBytes(4).toString('hex')}_0`, discriminator: '0', global_name: null, avatar: null, bot: false };

/** A dispatch of the same shape and size as Guildhall's MESSAGE_CREATE. */
function dispatch(key: string): Buffer {
  const id = String(nextId++);
  const d = {
    id,
    channel_id: '1500000000000000002',
    guild_id: '1500000000000000003',
    author,
    content: `sim:${key} message ${key} from ${author.username}`,
    timestamp: new Date().toISOString(),
    edited_timestamp: null,
    tts: false,
    mention_everyone: false,
    mentions: [],
    mention_roles: [],
    attachments: [],
    embeds: [],
    pinned: false,
    type: 0,
    flags: 0,
    member: { nick: null, roles: [], joined_at: new Date(0).toISOString(), deaf: false, mute: false, flags: 0 },
  };
  return Buffer.from(JSON.stringify({ op: 0, t: 'MESSAGE_CREATE', d, s: 1 }));
}

const server = createServer((req, res) => {
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
      const bytes = frame(dispatch(key));
      for (const s of sockets) if (s.writable) s.write(bytes);
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ sockets: sockets.size }));
    });
    return;
  }
  if (req.url === '/healthz') return void res.writeHead(200).end('ok');
  res.writeHead(404).end();
});

server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
  wss.handleUpgrade(req, socket, head, (ws) => {
    sockets.add(socket);
    ws.on('close', () => sockets.delete(socket));
    ws.on('error', () => sockets.delete(socket));
  });
});

server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  process.send?.({ ev: 'listening', port });
  if (!process.send) process.stdout.write(`${JSON.stringify({ port })}\n`);
});

const stop = () => {
  for (const s of sockets) s.destroy();
  server.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 2_000).unref();
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
process.on('disconnect', stop);
