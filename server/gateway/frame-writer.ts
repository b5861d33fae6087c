// Writes WebSocket text frames (RFC 6455 §5.2) for server-to-client messages
// straight onto the connection's socket. A broadcast is serialised once; each
// socket gets the shared bytes with its own seq, and the frames a session
// makes in one event-loop turn leave in ONE write on the next tick, so a burst
// costs fewer system calls than events. A caller that knows nothing else will
// follow in this turn (the session's mailbox is empty) asks for the write at
// once: the frame then goes out while the session's objects are still in the
// cache, without the pending list, the dirty list and the tick.
//
// Small frames are copied into one contiguous buffer rather than written as
// gathered parts: measured on this machine (bench/README.md), Node's writev
// path costs more per call than a memcpy of a few hundred bytes, and the
// system call, not the serialisation, is what a delivery costs. A dispatch is
// not built when queued: the flush writes header, shared head and seq of every
// pending frame straight into the one buffer it hands the socket (no buffer
// per frame, no second copy to join them). Frames of GATHER_FROM bytes or more
// are written as their parts, without copying.
//
// The bytes of a write go out of one process-wide scratch buffer whenever the
// socket's queue is empty: Node hands them to the kernel before write()
// returns (uv_try_write), and nothing holds them after. A Buffer per write
// was external memory V8 counts (a pooled 8 KiB slab per ~11 frames, ~0.7 MB
// a broadcast to 1,000 sessions), and its pressure set off collections:
// measured, most of the mark-compacts of a burst (bench/README.md). A write the
// kernel did not take whole leaves bytes queued in the socket, which then owns
// the scratch: a new one is made, and a socket already backed up gets a
// buffer of its own. Only for a plain net.Socket: another Duplex (a TLS
// socket, a PassThrough in a test) may keep a chunk it has called back for.
//
// ws keeps writing control frames (pings, pongs, close) itself, each whole and
// synchronously (permessage-deflate is off). Pending frames are flushed before
// a close (see flushNow), so nothing queued is overtaken by the close frame.
import { Socket } from 'node:net';
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

// Writes up to this size use the scratch buffer (a flush of a session's burst can exceed it: then a buffer of its own).
const SCRATCH_BYTES = 64 * 1024;
let scratch = Buffer.allocUnsafeSlow(SCRATCH_BYTES);

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

/** Decimal digits of a positive integer (a seq). */
function digitCount(n: number): number {
  let d = 1;
  while (n >= 10) {
    n = Math.floor(n / 10);
    d++;
  }
  return d;
}

/** Writes the header of an unmasked text frame of `length` (< 65,536) payload bytes at `at`; returns the next offset. */
function putHeader(out: Buffer, at: number, length: number): number {
  out[at] = FIN | OPCODE_TEXT;
  if (length < 126) {
    out[at + 1] = length;
    return at + 2;
  }
  out[at + 1] = 126;
  out[at + 2] = length >>> 8;
  out[at + 3] = length & 0xff;
  return at + 4;
}

/** Writes `seq` in ASCII digits and the closing brace at `at`; returns the next offset. */
function putSeqTail(out: Buffer, at: number, seq: number, digits: number): number {
  let i = at + digits;
  out[i] = 0x7d; // '}'
  for (let n = seq; i > at; n = Math.floor(n / 10)) out[--i] = 0x30 + (n % 10);
  return at + digits + 1;
}

// Pending output, in order: a Buffer followed by a number is a dispatch (the
// shared head and this socket's seq), built into the outgoing bytes only when
// they are written; a Buffer followed by anything else is bytes as they are.
type Pending = (Buffer | number)[];
const NOTHING_PENDING: Pending = [];

export class FrameWriter {
  // Made on the first write, and emptied in place after each flush.
  private pending = NOTHING_PENDING;
  private pendingBytes = 0;
  private gathered = false;
  /** Frames written; with `flushes`, shows how well bursts are batched. */
  frames = 0;
  /** Socket writes (one system call each, at most). */
  flushes = 0;
  /** Of those, the writes whose bytes came from the scratch buffer. */
  fromScratch = 0;

  /** A plain net.Socket (not TLS, not another Duplex): its writes may come from the scratch buffer. */
  private readonly plain: boolean;

  constructor(private readonly socket: Duplex) {
    this.plain = Object.getPrototypeOf(socket) === Socket.prototype;
  }

  /** Bytes accepted but not yet handed to the kernel: the slow-consumer signal. */
  get bufferedBytes(): number {
    return this.socket.writableLength + this.pendingBytes;
  }

  get writable(): boolean {
    // `writable` is false once the socket's writable side is destroyed, ending or errored, and a
    // Duplex is `destroyed` only when both sides are: no separate `destroyed` check, which would
    // read the socket's readable state too (one more object for every frame written).
    return this.socket.writable;
  }

  private queue(): Pending {
    if (this.pending === NOTHING_PENDING) this.pending = [];
    return this.pending;
  }

  /** Queues one text frame whose payload is the concatenation of `parts`; it leaves on the next tick. */
  writeText(parts: readonly Buffer[]): boolean {
    if (!this.writable) return false;
    let length = 0;
    for (const p of parts) length += p.length;
    const header = textFrameHeader(length);
    const pending = this.queue();
    if (length >= GATHER_FROM) {
      pending.push(header, ...parts);
      this.gathered = true;
    } else {
      const frame = Buffer.allocUnsafe(header.length + length);
      let offset = header.copy(frame, 0);
      for (const p of parts) offset += p.copy(frame, offset);
      pending.push(frame);
    }
    if (this.pendingBytes === 0) markDirty(this);
    this.pendingBytes += header.length + length;
    this.frames++;
    return true;
  }

  /**
   * Queues a dispatch frame: the shared `head` (`...,"s":`), then `seq` and the
   * closing brace. Nothing is allocated or copied per frame here: at the flush
   * every pending frame is written straight into the one buffer handed to the
   * socket. With `now`, this frame and whatever is pending leave at once, in
   * one write. Returns the payload size in bytes (0 when the socket is gone).
   */
  writeDispatch(head: Buffer, seq: number, now = false): number {
    if (!this.writable) return 0;
    const digits = digitCount(seq);
    const length = head.length + digits + 1;
    if (length >= GATHER_FROM) {
      if (!this.writeText([head, Buffer.from(`${seq}}`, 'latin1')])) return 0;
      if (now) this.flushNow();
      return length;
    }
    if (now && this.pendingBytes === 0) {
      // Nothing pending: the frame is built and written here, with no pending list behind it.
      const frame = this.outgoing((length < 126 ? 2 : 4) + length);
      const at = putHeader(frame, 0, length);
      frame.set(head, at);
      putSeqTail(frame, at + head.length, seq, digits);
      this.frames++;
      this.flushes++;
      this.socket.write(frame);
      this.sent(frame);
      return length;
    }
    this.queue().push(head, seq);
    if (this.pendingBytes === 0) markDirty(this);
    this.pendingBytes += (length < 126 ? 2 : 4) + length;
    this.frames++;
    if (now) this.flushNow();
    return length;
  }

  /** `n` bytes to fill and write: the scratch's, when a plain TCP socket will take them at once (see sent()). */
  private outgoing(n: number): Buffer {
    return this.plain && n <= SCRATCH_BYTES && this.socket.writableLength === 0 ? scratch.subarray(0, n) : Buffer.allocUnsafe(n);
  }

  /** After `socket.write(out)`: bytes still queued may be the scratch's, which the socket then keeps. */
  private sent(out: Buffer): void {
    if (out.buffer !== scratch.buffer) return;
    this.fromScratch++;
    if (this.socket.writableLength !== 0) scratch = Buffer.allocUnsafeSlow(SCRATCH_BYTES);
  }

  /** Writes whatever is pending now (before a close frame, say). */
  flushNow(): void {
    if (this.pendingBytes === 0) return;
    const pending = this.pending;
    const total = this.pendingBytes;
    const gathered = this.gathered;
    this.pendingBytes = 0;
    this.gathered = false;
    if (!this.writable) {
      pending.length = 0;
      return;
    }
    this.flushes++;
    if (gathered) {
      // Large frames go as their parts, uncopied; dispatches among them are built one by one.
      const chunks: Buffer[] = [];
      for (let i = 0; i < pending.length; i++) {
        const b = pending[i] as Buffer;
        const seq = pending[i + 1];
        if (typeof seq !== 'number') {
          chunks.push(b);
          continue;
        }
        i++;
        const digits = digitCount(seq);
        const length = b.length + digits + 1;
        const frame = Buffer.allocUnsafe((length < 126 ? 2 : 4) + length);
        let at = putHeader(frame, 0, length);
        frame.set(b, at);
        at += b.length;
        putSeqTail(frame, at, seq, digits);
        chunks.push(frame);
      }
      pending.length = 0;
      this.socket.cork();
      for (const c of chunks) this.socket.write(c);
      this.socket.uncork();
      return;
    }
    if (pending.length === 1) {
      this.socket.write(pending[0] as Buffer);
      pending.length = 0;
      return;
    }
    const out = this.outgoing(total);
    let at = 0;
    for (let i = 0; i < pending.length; i++) {
      const b = pending[i] as Buffer;
      const seq = pending[i + 1];
      if (typeof seq === 'number') {
        i++;
        const digits = digitCount(seq);
        at = putHeader(out, at, b.length + digits + 1);
        out.set(b, at);
        at = putSeqTail(out, at + b.length, seq, digits);
      } else {
        out.set(b, at);
        at += b.length;
      }
    }
    pending.length = 0;
    this.socket.write(out);
    this.sent(out);
  }
}
