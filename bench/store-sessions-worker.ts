// bench:store's gateway sessions, on a worker thread (store-sessions.ts is the
// side the benchmark holds). Each session speaks the gateway as a client must
// (HELLO -> IDENTIFY, heartbeats at HELLO's interval, READY, a GUILD_CREATE per
// guild) and counts what it is sent, checking that dispatch sequence numbers
// follow on without a gap. What it does not do is parse every MESSAGE_CREATE:
// the benchmark only needs them counted, and JSON.parse of every frame (as
// client-sim's sessions do, to match nonces) was the sessions' main cost. A
// frame that starts as the server's MESSAGE_CREATE encoding does is counted
// and its "s" read from its tail; anything else is parsed in full.
import { parentPort, workerData } from 'node:worker_threads';
import WebSocket from 'ws';
import { Op } from '../client-sim/protocol.js';

export interface LeanInit {
  /** Gateway URL with the query string. */
  url: string;
  intents: number;
  sessions: Array<{ token: string; guildIds: string[] }>;
  /** Sessions opened per second. */
  connectPerS: number;
}

export interface LeanStats {
  sessions: number;
  /** READY and every GUILD_CREATE it is due arrived. */
  complete: number;
  /** Closed without being asked to, or failed to connect. */
  failed: number;
  messageCreates: number;
  /** Dispatches whose sequence number was not the previous one + 1. */
  seqGaps: number;
  /** Frames that were not what a healthy session is sent (RECONNECT, INVALID_SESSION, unparsable). */
  unexpected: number;
}

const MESSAGE_CREATE = Buffer.from('{"op":0,"t":"MESSAGE_CREATE",');
const SEQ = Buffer.from('"s":');

const stats: LeanStats = { sessions: 0, complete: 0, failed: 0, messageCreates: 0, seqGaps: 0, unexpected: 0 };
const sockets: WebSocket[] = [];
const timers: NodeJS.Timeout[] = [];
let closing = false;

function open(init: LeanInit, spec: LeanInit['sessions'][number]): void {
  const pending = new Set(spec.guildIds);
  let ready = false;
  let complete = false;
  let seq = 0;
  const ws = new WebSocket(init.url, { perMessageDeflate: false });
  sockets.push(ws);
  const observe = (s: number) => {
    if (seq !== 0 && s !== seq + 1) stats.seqGaps++;
    seq = s;
  };
  ws.on('message', (data: Buffer) => {
    if (data.length > MESSAGE_CREATE.length && data.compare(MESSAGE_CREATE, 0, MESSAGE_CREATE.length, 0, MESSAGE_CREATE.length) === 0) {
      const at = data.lastIndexOf(SEQ);
      const s = at < 0 ? NaN : Number(data.toString('latin1', at + SEQ.length, data.length - 1));
      if (!Number.isInteger(s)) stats.unexpected++;
      else observe(s);
      stats.messageCreates++;
      return;
    }
    let p: { op: number; t: string | null; s: number | null; d: any }; // eslint-disable-line @typescript-eslint/no-explicit-any
    try {
      p = JSON.parse(data.toString('utf8'));
    } catch {
      stats.unexpected++;
      return;
    }
    if (typeof p.s === 'number') observe(p.s);
    switch (p.op) {
      case Op.HELLO: {
        const interval = Number(p.d?.heartbeat_interval) || 41_250;
        const beat = () => ws.readyState === WebSocket.OPEN && ws.send(JSON.stringify({ op: Op.HEARTBEAT, d: seq || null }));
        const first = setTimeout(() => {
          beat();
          timers.push(setInterval(beat, interval));
        }, interval * Math.random());
        timers.push(first);
        ws.send(JSON.stringify({ op: Op.IDENTIFY, d: { token: spec.token, intents: init.intents, properties: { os: process.platform, browser: 'bench-store', device: 'bench-store' } } }));
        return;
      }
      case Op.HEARTBEAT:
        ws.send(JSON.stringify({ op: Op.HEARTBEAT, d: seq || null }));
        return;
      case Op.HEARTBEAT_ACK:
        return;
      case Op.DISPATCH:
        if (p.t === 'MESSAGE_CREATE') stats.messageCreates++; // encoded otherwise than expected: still counted
        else if (p.t === 'READY') ready = true;
        else if (p.t === 'GUILD_CREATE') pending.delete(String(p.d?.id));
        if (!complete && ready && pending.size === 0) {
          complete = true;
          stats.complete++;
        }
        return;
      default:
        stats.unexpected++;
    }
  });
  ws.on('error', () => {});
  ws.on('close', () => {
    if (!closing) stats.failed++;
  });
}

function start(init: LeanInit): void {
  stats.sessions = init.sessions.length;
  const batch = Math.max(1, Math.round(init.connectPerS / 50));
  for (let i = 0; i < init.sessions.length; i += batch) {
    timers.push(setTimeout(() => init.sessions.slice(i, i + batch).forEach((spec) => open(init, spec)), (i / init.connectPerS) * 1000));
  }
}

async function close(): Promise<void> {
  closing = true;
  for (const t of timers) clearTimeout(t);
  await Promise.all(
    sockets.map(
      (ws) =>
        new Promise<void>((resolve) => {
          if (ws.readyState === WebSocket.CLOSED) return resolve();
          ws.once('close', () => resolve());
          if (ws.readyState === WebSocket.OPEN) ws.close(1000);
          else ws.terminate();
          setTimeout(() => {
            ws.terminate();
            resolve();
          }, 2_000).unref();
        }),
    ),
  );
}

if (parentPort) {
  const port = parentPort;
  start(workerData as LeanInit);
  port.on('message', (msg: { id: number; cmd: 'stats' | 'close' }) => {
    if (msg.cmd === 'stats') port.postMessage({ id: msg.id, value: { ...stats } });
    else void close().then(() => port.postMessage({ id: msg.id, value: null }));
  });
}
