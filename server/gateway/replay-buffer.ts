// The events a session sent most recently, by seq, so a RESUME can replay
// what the client missed. Bounded: past `capacity` the oldest go, and a resume
// from before them is refused (INVALID_SESSION) rather than silently partial.
import type { EncodedDispatch } from './dispatch.js';

export interface Sent {
  seq: number;
  dispatch: EncodedDispatch;
}

export class ReplayBuffer {
  private readonly items: (Sent | undefined)[];
  private head = 0;
  private count = 0;

  constructor(readonly capacity: number) {
    this.items = new Array(Math.max(0, capacity));
  }

  push(seq: number, dispatch: EncodedDispatch): void {
    if (this.capacity === 0) return;
    const entry = { seq, dispatch };
    if (this.count < this.capacity) {
      this.items[(this.head + this.count) % this.capacity] = entry;
      this.count++;
    } else {
      this.items[this.head] = entry;
      this.head = (this.head + 1) % this.capacity;
    }
  }

  /**
   * Everything after `seq`, oldest first; `[]` when nothing was missed;
   * undefined when some of it is no longer held.
   */
  after(seq: number, lastSeq: number): Sent[] | undefined {
    if (seq >= lastSeq) return [];
    const out: Sent[] = [];
    for (let i = 0; i < this.count; i++) {
      const e = this.items[(this.head + i) % this.capacity]!;
      if (e.seq > seq) out.push(e);
    }
    // Complete only if the first one we hold is the very next seq.
    return out.length === lastSeq - seq && out[0]?.seq === seq + 1 ? out : undefined;
  }
}
