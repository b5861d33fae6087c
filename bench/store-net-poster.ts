// bench:store's default posters: POST /channels/{id}/messages written as raw
// HTTP/1.1 bytes on kept-alive `net` sockets, one request in flight per socket,
// reading only the status line, Content-Length and Connection of the answer and
// then counting its body bytes. node:http (an IncomingMessage, header objects,
// a ClientRequest and its parser per post) cost the load generator more CPU
// per post than the server spent answering it, on the same two cores, so the
// posters' own loop set the tail they measured. Timed as before: from the
// write to the answer's last byte; every answer's status is checked.
import net from 'node:net';
import type { HistogramSet } from '../client-sim/histograms.js';

const CRLFCRLF = Buffer.from('\r\n\r\n');
/** An answer's head larger than this is not one of ours: the socket is dropped and the post counted as failed. */
const MAX_HEAD = 16 * 1024;

/** What an answer's head says (`parseHead`). */
export interface Head {
  status: number;
  /** Body bytes that follow the head. */
  contentLength: number;
  /** The server will close the socket after this answer. */
  close: boolean;
}

/**
 * Parses an HTTP/1.1 answer's head (status line and headers, without the blank line), or null when it is not one this
 * poster can frame (no Content-Length: chunked or close-delimited bodies are not what Guildhall answers a post with).
 */
export function parseHead(head: string): Head | null {
  if (!head.startsWith('HTTP/1.')) return null;
  const status = Number(head.slice(9, 12));
  if (!Number.isInteger(status) || status < 100) return null;
  const lower = head.toLowerCase();
  const at = lower.indexOf('\r\ncontent-length:');
  if (at < 0) return null;
  const end = lower.indexOf('\r\n', at + 2);
  const contentLength = Number(lower.slice(at + 17, end < 0 ? undefined : end).trim());
  if (!Number.isInteger(contentLength) || contentLength < 0) return null;
  return { status, contentLength, close: /\r\nconnection:\s*close/.test(lower) };
}

class Conn {
  readonly socket: net.Socket;
  private pending: ((ok: boolean) => void) | undefined;
  private started = 0;
  /** Bytes of the current answer received so far (only kept while its head is incomplete). */
  private partial: Buffer | undefined;
  /** Body bytes still due once the head is parsed; -1 while reading the head. */
  private bodyLeft = -1;
  private head: Head | undefined;

  constructor(
    port: number,
    host: string,
    private readonly done: (conn: Conn, ok: boolean, ms: number, reusable: boolean, resolve: (ok: boolean) => void) => void,
  ) {
    this.socket = net.connect({ port, host, noDelay: true });
    this.socket.on('data', (chunk: Buffer) => this.onData(chunk));
    this.socket.on('error', () => {});
    this.socket.on('close', () => this.fail());
  }

  send(request: string, resolve: (ok: boolean) => void): void {
    this.pending = resolve;
    this.bodyLeft = -1;
    this.head = undefined;
    this.partial = undefined;
    this.started = performance.now();
    this.socket.write(request, 'utf8');
  }

  private onData(chunk: Buffer): void {
    if (!this.pending) return this.broken(); // bytes nobody asked for: the framing is lost
    let body = chunk.length;
    if (this.bodyLeft < 0) {
      const buf = this.partial ? Buffer.concat([this.partial, chunk]) : chunk;
      const cut = buf.indexOf(CRLFCRLF);
      if (cut < 0) {
        if (buf.length > MAX_HEAD) return this.broken();
        this.partial = buf;
        return;
      }
      this.partial = undefined;
      const head = parseHead(buf.toString('latin1', 0, cut));
      if (head === null) return this.broken();
      this.head = head;
      this.bodyLeft = head.contentLength;
      body = buf.length - cut - 4;
    }
    this.bodyLeft -= body;
    if (this.bodyLeft > 0) return;
    if (this.bodyLeft < 0) return this.broken(); // more than one answer to one request
    const head = this.head!;
    const resolve = this.pending;
    this.pending = undefined;
    this.done(this, head.status >= 200 && head.status < 300, performance.now() - this.started, !head.close, resolve);
  }

  /** An answer this poster cannot frame: the post fails and the socket goes. */
  private broken(): void {
    this.socket.destroy();
    this.fail();
  }

  private fail(): void {
    const pending = this.pending;
    this.pending = undefined;
    if (pending) this.done(this, false, 0, false, pending);
  }

}

export class NetPoster {
  /** Open sockets with nothing in flight, most recently used last (reused first: few sockets stay warm). */
  private readonly idle: Conn[] = [];
  private readonly all = new Set<Conn>();
  private readonly host: string;
  private readonly port: number;
  private readonly hostHeader: string;
  errors = 0;

  constructor(
    baseUrl: string,
    private readonly histograms: HistogramSet,
  ) {
    const url = new URL(baseUrl);
    this.host = url.hostname;
    this.port = Number(url.port);
    this.hostHeader = url.host;
  }

  /** Posts `content` as the holder of `token`; resolves true when answered 2xx (its latency recorded in `rest`). */
  post(channelId: string, token: string, content: string): Promise<boolean> {
    const body = `{"content":${JSON.stringify(content)}}`;
    const request =
      `POST /api/v10/channels/${channelId}/messages HTTP/1.1\r\nHost: ${this.hostHeader}\r\nAuthorization: Bot ${token}\r\n` +
      `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
    return new Promise((resolve) => {
      let conn = this.idle.pop();
      while (conn && conn.socket.destroyed) conn = this.idle.pop();
      if (!conn) {
        conn = new Conn(this.port, this.host, (c, ok, ms, reusable, done) => this.finished(c, ok, ms, reusable, done));
        this.all.add(conn);
      }
      conn.send(request, resolve);
    });
  }

  private finished(conn: Conn, ok: boolean, ms: number, reusable: boolean, resolve: (ok: boolean) => void): void {
    if (ok) this.histograms.record('rest', ms);
    else this.errors++;
    if (reusable && !conn.socket.destroyed) this.idle.push(conn);
    else {
      this.all.delete(conn);
      conn.socket.destroy();
    }
    resolve(ok);
  }

  /** Sockets open now (in flight or idle). */
  get sockets(): number {
    return this.all.size;
  }

  close(): void {
    for (const c of this.all) c.socket.destroy();
    this.all.clear();
    this.idle.length = 0;
  }
}
