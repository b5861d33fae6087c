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

// Rings start small and double up to their capacity: an idle session holds a
// few slots (READY and a GUILD_CREATE per guild), not `capacity` of them
// (thousands of sessions, most of them quiet).
const INITIAL_SLOTS = 4;
const NO_SLOTS: readonly (EncodedDispatch | undefined)[] = [];

export class ReplayBuffer {
  private items = NO_SLOTS as (EncodedDispatch | undefined)[];
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
    if (this.capacity === 0) return;
    if (this.count === this.items.length && this.count < this.capacity) this.grow();
    const size = this.items.length;
    if (this.count < size) {
      this.items[(this.head + this.count) % size] = dispatch;
      this.count++;
    } else {
      this.items[this.head] = dispatch;
      this.head = (this.head + 1) % size;
    }
  }

  private grow(): void {
    const size = Math.min(this.capacity, Math.max(INITIAL_SLOTS, this.items.length * 2));
    const next: (EncodedDispatch | undefined)[] = new Array(size);
    for (let i = 0; i < this.count; i++) next[i] = this.items[(this.head + i) % this.items.length];
    this.items = next;
    this.head = 0;
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
    for (let s = seq + 1; s <= this.last; s++) out.push({ seq: s, dispatch: this.items[(this.head + (s - first)) % this.items.length]! });
    return out;
  }
}
