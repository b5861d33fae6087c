// The least per-session state a Discord-style protocol needs, for the
// `floor-seq` server: a sequence number and a resume buffer per socket. Each
// broadcast is serialised once up to `"s":`; every socket gets its own frame
// with its next seq spliced in, and keeps a reference to the shared encoding
// in a ring (as Guildhall's ReplayBuffer does: references, no copies; the ring
// starts small and doubles up to its capacity, so an idle socket holds a few slots).
// RFC 6455 §5.2 for the frame.

const FIN_TEXT = 0x81;

/** The shared part of a dispatch: `{"op":0,"t":...,"d":...,"s":` (the seq and `}` follow). */
export function dispatchHead(event: string, data: unknown): Buffer {
  return Buffer.from(`{"op":0,"t":${JSON.stringify(event)},"d":${JSON.stringify(data)},"s":`);
}

/** One unmasked text frame whose payload is `head`, the digits of `seq` and `}`: one allocation, one copy of `head`. */
export function seqFrame(head: Buffer, seq: number): Buffer {
  const tail = `${seq}}`; // ASCII: its length is its byte length
  const length = head.length + tail.length;
  const headerLength = length < 126 ? 2 : length < 65_536 ? 4 : 10;
  const frame = Buffer.allocUnsafe(headerLength + length);
  frame[0] = FIN_TEXT;
  if (headerLength === 2) {
    frame[1] = length;
  } else if (headerLength === 4) {
    frame[1] = 126;
    frame.writeUInt16BE(length, 2);
  } else {
    frame[1] = 127;
    frame.writeBigUInt64BE(BigInt(length), 2);
  }
  head.copy(frame, headerLength);
  frame.write(tail, headerLength + head.length, 'latin1');
  return frame;
}

const INITIAL_SLOTS = 16;

/** A socket's seq and the last `capacity` dispatches sent to it (references to the shared heads). */
export class SeqState {
  seq = 0;
  private ring: (Buffer | undefined)[] = new Array(INITIAL_SLOTS);
  private count = 0;

  constructor(readonly capacity: number) {
    if (capacity < INITIAL_SLOTS) this.ring = new Array(capacity);
  }

  /** Takes the next seq for `head`, keeps `head` for a resume, returns the frame to write. */
  next(head: Buffer): Buffer {
    if (this.capacity > 0 && this.count === this.ring.length && this.count < this.capacity) this.grow();
    const seq = ++this.seq;
    if (this.capacity > 0) {
      this.ring[(seq - 1) % this.ring.length] = head;
      if (this.count < this.ring.length) this.count++;
    }
    return seqFrame(head, seq);
  }

  /** The head sent with `seq`, if the ring still holds it (what a RESUME would replay). */
  held(seq: number): Buffer | undefined {
    if (seq < 1 || seq > this.seq || seq <= this.seq - this.count) return undefined;
    return this.ring[(seq - 1) % this.ring.length];
  }

  // Slots are indexed by seq modulo the ring's size: growing re-places what is held.
  private grow(): void {
    const size = Math.min(this.capacity, this.ring.length * 2);
    const next: (Buffer | undefined)[] = new Array(size);
    for (let s = this.seq - this.count + 1; s <= this.seq; s++) next[(s - 1) % size] = this.ring[(s - 1) % this.ring.length];
    this.ring = next;
  }
}
