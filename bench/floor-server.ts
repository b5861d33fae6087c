// The floors: the least a Node process can do to broadcast. ws does the
// handshake and reads; on POST /broadcast the server builds one
// MESSAGE_CREATE (bench/message-create.ts) and serialises it once.
//   floor      frames it once and writes the same bytes to every socket: no
//              actors, no sessions, no per-recipient state, no tracing.
//   floor-seq  (--seq) also keeps what a resumable protocol must per socket: a
//              sequence number spliced into each socket's frame and a ring of
//              references to what was sent (bench/floor-seq.ts).
// What Guildhall costs above floor-seq is the price of everything else it does.
//   node --import tsx bench/floor-server.ts [--seq]     (IPC: sends {ev:'listening', port})
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer } from 'ws';
import { broadcastServer, contentFor, listen, source } from './broadcast-http.js';
import { SeqState, dispatchHead, seqFrame } from './floor-seq.js';

/** Guildhall's default resume buffer (GUILDHALL_RESUME_BUFFER). */
const RESUME_BUFFER = 1000;
const withSeq = process.argv.includes('--seq');
const sockets = new Map<Duplex, SeqState | undefined>();
const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false, clientTracking: false });

const server = broadcastServer((key) => {
  const head = dispatchHead('MESSAGE_CREATE', source.next(contentFor(key)));
  if (withSeq) {
    for (const [s, state] of sockets) if (s.writable) s.write(state!.next(head));
  } else {
    const bytes = seqFrame(head, 1);
    for (const s of sockets.keys()) if (s.writable) s.write(bytes);
  }
  return sockets.size;
});

server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
  wss.handleUpgrade(req, socket, head, (ws) => {
    sockets.set(socket, withSeq ? new SeqState(RESUME_BUFFER) : undefined);
    ws.on('close', () => sockets.delete(socket));
    ws.on('error', () => sockets.delete(socket));
  });
});

listen(server, () => {
  for (const s of sockets.keys()) s.destroy();
});
