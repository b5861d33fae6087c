// Writes WebSocket text frames (RFC 6455 §5.2) for server-to-client messages
// straight onto the connection's socket, from several buffers and without
// joining them: a broadcast's shared bytes go to every socket as they are.
// Writes made in one event-loop turn leave in one system call: the socket is
// corked on the first write and uncorked on the next tick.
//
// ws keeps writing control frames (pings, pongs, close) itself. It writes each
// frame whole and synchronously (permessage-deflate is off), as does this
// writer, so frames never interleave.
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

export class FrameWriter {
  private corked = false;
  /** Frames written; with `writes`, shows how well bursts are batched. */
  frames = 0;
  /** Socket flushes (one writev each). */
  flushes = 0;

  constructor(private readonly socket: Duplex) {}

  /** Bytes accepted but not yet handed to the kernel: the slow-consumer signal. */
  get bufferedBytes(): number {
    return this.socket.writableLength;
  }

  get writable(): boolean {
    return this.socket.writable && !this.socket.destroyed;
  }

  /** Writes one text frame whose payload is the concatenation of `parts`. */
  writeText(parts: readonly Buffer[]): boolean {
    if (!this.writable) return false;
    let length = 0;
    for (const p of parts) length += p.length;
    if (!this.corked) {
      this.corked = true;
      this.socket.cork();
      process.nextTick(this.flush);
    }
    this.socket.write(textFrameHeader(length));
    for (const p of parts) this.socket.write(p);
    this.frames++;
    return true;
  }

  private readonly flush = (): void => {
    this.corked = false;
    this.flushes++;
    this.socket.uncork();
  };
}
