// The dispatches a session sent most recently, so a RESUME can replay what the
// client missed. Seqs are contiguous, so only the dispatches are kept (a ring
// of references to shared encodings: no per-event allocation), and the seq of
// each is implied by its place. Bounded: past `capacity` the oldest go, and a
// resume from before them is refused (INVALID_SESSION), never silently partial.
import type { EncodedDispatch } from './dispatch.js';

export interface Sent {
  seq: number;
  dispatch: EncodedDispatch;
}

type Slots = (EncodedDispatch | undefined)[];

// Storage grows without ever copying what it holds past the first chunk: the
// first CHUNK slots start small and double (an idle session holds a few
// slots: READY and a GUILD_CREATE per guild, not `capacity` of them), then
// fixed chunks are added until `capacity`. Growth by doubling to thousands
// left each outgrown array as garbage, and a ring fills over minutes, long
// enough for those arrays to be promoted before they die (issue 12).
const SHIFT = 7;
const CHUNK = 1 << SHIFT;
const MASK = CHUNK - 1;
const INITIAL_SLOTS = 4;
const NO_SLOTS: Readonly<Slots> = [];
// A shared empty list rather than undefined: the field always holds an array.
const NO_CHUNKS: readonly Slots[] = [];

export class ReplayBuffer {
  /** Slots 0..CHUNK-1, the only storage of a ring of up to CHUNK entries. */
  private first = NO_SLOTS as Slots;
  /** Every chunk, `first` included, once the ring has grown past it. */
  private chunks = NO_CHUNKS as Slots[];
  /** Slot of the oldest entry; stays 0 until the ring is full. */
  private head = 0;
  private count = 0;
  /** Seq of the newest entry (0 before any). */
  private last = 0;

  constructor(readonly capacity: number) {}

  /**
   * Continues a session taken over from another node: the next push is
   * `seq + 1`, and a resume from `seq` itself has missed nothing. Only on an
   * empty buffer.
   */
  startAfter(seq: number): void {
    if (this.count > 0) throw new RangeError('startAfter on a buffer in use');
    this.last = seq;
  }

  /** Records `dispatch` as sent with `seq`, which must follow the previous one. */
  push(seq: number, dispatch: EncodedDispatch): void {
    if (seq !== this.last + 1 && this.count > 0) throw new RangeError(`seq ${seq} does not follow ${this.last}`);
    this.last = seq;
    const count = this.count;
    if (count < this.capacity) {
      // Filling: the new entry goes to slot `count` (head is 0).
      if (count < CHUNK) {
        if (count === this.first.length) this.growFirst();
        this.first[count] = dispatch;
      } else {
        if ((count & MASK) === 0) this.addChunk(count);
        this.chunks[count >> SHIFT]![count & MASK] = dispatch;
      }
      this.count = count + 1;
    } else if (count > 0) {
      // Full: overwrite the oldest.
      const slot = this.head;
      if (slot < CHUNK) this.first[slot] = dispatch;
      else this.chunks[slot >> SHIFT]![slot & MASK] = dispatch;
      this.head = slot + 1 === count ? 0 : slot + 1;
    }
  }

  private growFirst(): void {
    const size = Math.min(this.capacity, CHUNK, Math.max(INITIAL_SLOTS, this.first.length * 2));
    const next: Slots = new Array(size);
    for (let i = 0; i < this.count; i++) next[i] = this.first[i];
    this.first = next;
  }

  /** Makes the chunk that starts at slot `start` (a multiple of CHUNK, past the first). */
  private addChunk(start: number): void {
    if (this.chunks === NO_CHUNKS) {
      // Made once at its final length: the list of chunks never grows either.
      this.chunks = new Array<Slots>(Math.ceil(this.capacity / CHUNK));
      this.chunks[0] = this.first;
    }
    this.chunks[start >> SHIFT] = new Array(Math.min(CHUNK, this.capacity - start));
  }

  private at(slot: number): EncodedDispatch {
    return (slot < CHUNK ? this.first[slot] : this.chunks[slot >> SHIFT]![slot & MASK])!;
  }

  /**
   * Everything after `seq`, oldest first; `[]` when nothing was missed;
   * undefined when some of it is no longer held.
   */
  after(seq: number): Sent[] | undefined {
    if (seq >= this.last) return [];
    const first = this.last - this.count + 1;
    if (seq + 1 < first) return undefined;
    const out: Sent[] = [];
    // The oldest is at `head`, the next ones after it, wrapping at `count` (which is `capacity` once the ring wrapped).
    let slot = (this.head + (seq + 1 - first)) % this.count;
    for (let s = seq + 1; s <= this.last; s++) {
      out.push({ seq: s, dispatch: this.at(slot) });
      slot = slot + 1 === this.count ? 0 : slot + 1;
    }
    return out;
  }
}
