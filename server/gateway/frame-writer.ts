// Writes WebSocket text frames (RFC 6455 §5.2) for server-to-client messages
// straight onto the connection's socket. A broadcast is serialised once; each
// socket gets the shared bytes with its own seq, and the frames a session
// makes in one event-loop turn leave in ONE write on the next tick, so a burst
// costs fewer system calls than events.
//
// Small frames are copied into one contiguous buffer rather than written as
// gathered parts: measured on this machine (bench/README.md), Node's writev
// path costs more per call than a memcpy of a few hundred bytes, and the
// system call, not the serialisation, is what a delivery costs. Frames of
// GATHER_FROM bytes or more are written as their parts, without copying.
//
// ws keeps writing control frames (pings, pongs, close) itself, each whole and
// synchronously (permessage-deflate is off). Pending frames are flushed before
// a close (see flushNow), so nothing queued is overtaken by the close frame.
import type { Duplex } from 'node:stream';

const OPCODE_TEXT = 0x1;
const FIN = 0x80;

// Headers never change once made, so those of frames under 64 KiB are shared:
// a broadcast to N sockets allocates no header at all after the first.
const headers: (Buffer | undefined)[] = new Array(65_536);

/** Frame header for an unmasked text frame of `length` payload bytes. */
export function textFrameHeader(length: number): Buffer {
  if (length < 65_536) {
    let h = headers[length];
    if (!h) {
      if (length < 126) {
        h = Buffer.from([FIN | OPCODE_TEXT, length]);
      } else {
        h = Buffer.alloc(4);
        h[0] = FIN | OPCODE_TEXT;
        h[1] = 126;
        h.writeUInt16BE(length, 2);
      }
      headers[length] = h;
    }
    return h;
  }
  const h = Buffer.allocUnsafe(10);
  h[0] = FIN | OPCODE_TEXT;
  h[1] = 127;
  h.writeBigUInt64BE(BigInt(length), 2);
  return h;
}

/** Frames at least this big are written as their parts (zero copy). */
export const GATHER_FROM = 16 * 1024;

// Writers with frames pending, flushed together by ONE nextTick per turn: a
// broadcast to N sessions schedules one tick, not N. (With tracing on, Node 20's
// AsyncLocalStorage runs an async hook for every tick object; N of them per
// broadcast showed up as microseconds per delivery.)
let dirty: FrameWriter[] = [];
let spare: FrameWriter[] = [];
let flushScheduled = false;

function flushDirty(): void {
  flushScheduled = false;
  const writers = dirty;
  dirty = spare;
  for (let i = 0; i < writers.length; i++) writers[i]!.flushNow();
  writers.length = 0;
  spare = writers;
}

function markDirty(writer: FrameWriter): void {
  dirty.push(writer);
  if (!flushScheduled) {
    flushScheduled = true;
    process.nextTick(flushDirty);
  }
}

export class FrameWriter {
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private gathered = false;
  /** Frames written; with `flushes`, shows how well bursts are batched. */
  frames = 0;
  /** Socket writes (one system call each, at most). */
  flushes = 0;

  constructor(private readonly socket: Duplex) {}

  /** Bytes accepted but not yet handed to the kernel: the slow-consumer signal. */
  get bufferedBytes(): number {
    return this.socket.writableLength + this.pendingBytes;
  }

  get writable(): boolean {
    return this.socket.writable && !this.socket.destroyed;
  }

  /** Queues one text frame whose payload is the concatenation of `parts`; it leaves on the next tick. */
  writeText(parts: readonly Buffer[]): boolean {
    if (!this.writable) return false;
    let length = 0;
    for (const p of parts) length += p.length;
    const header = textFrameHeader(length);
    if (length >= GATHER_FROM) {
      this.pending.push(header, ...parts);
      this.gathered = true;
    } else {
      const frame = Buffer.allocUnsafe(header.length + length);
      let offset = header.copy(frame, 0);
      for (const p of parts) offset += p.copy(frame, offset);
      this.pending.push(frame);
    }
    if (this.pendingBytes === 0) markDirty(this);
    this.pendingBytes += header.length + length;
    this.frames++;
    return true;
  }

  /**
   * Queues a dispatch frame: the shared `head` (`...,"s":`), then `seq` and the
   * closing brace, written straight into the frame buffer: per recipient one
   * allocation and one copy of the shared bytes, no intermediate pieces.
   * Returns the payload size in bytes (0 when the socket is gone).
   */
  writeDispatch(head: Buffer, seq: number): number {
    if (!this.writable) return 0;
    const tail = `${seq}}`; // ASCII digits and a brace: its length is its byte length
    const length = head.length + tail.length;
    if (length >= GATHER_FROM) return this.writeText([head, Buffer.from(tail, 'latin1')]) ? length : 0;
    const header = textFrameHeader(length);
    const frame = Buffer.allocUnsafe(header.length + length);
    let offset = header.copy(frame, 0);
    offset += head.copy(frame, offset);
    frame.write(tail, offset, 'latin1');
    this.pending.push(frame);
    if (this.pendingBytes === 0) markDirty(this);
    this.pendingBytes += frame.length;
    this.frames++;
    return length;
  }

  /** Writes whatever is pending now (before a close frame, say). */
  flushNow(): void {
    if (this.pendingBytes === 0) return;
    const chunks = this.pending;
    const gathered = this.gathered;
    this.pending = [];
    this.pendingBytes = 0;
    this.gathered = false;
    if (!this.writable) return;
    this.flushes++;
    if (chunks.length === 1) {
      this.socket.write(chunks[0]!);
    } else if (!gathered) {
      this.socket.write(Buffer.concat(chunks));
    } else {
      this.socket.cork();
      for (const c of chunks) this.socket.write(c);
      this.socket.uncork();
    }
  }
}
