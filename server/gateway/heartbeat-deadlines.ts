// Every connection's heartbeat deadline in one queue, behind one timer. A
// deadline is always "now + the same timeout", so a connection re-armed by its
// heartbeat goes to the back and the queue stays in deadline order (Node's own
// timers keep one list per duration for the same reason): arming is O(1), and
// thousands of idle sockets cost one timer rather than one each, re-made with
// a new closure on every heartbeat. The timer is set for the front's deadline;
// when it fires, every connection whose deadline has come is expired, and it
// is set again for the new front (the front may have moved back meanwhile).
import type { Clock, TimerHandle } from '../../actors/index.js';

export interface HeartbeatDeadlineOwner {
  /** Its deadline passed without a re-arm (it is no longer in the queue). */
  heartbeatDeadlinePassed(): void;
}

export class HeartbeatDeadlines {
  /** Owner -> deadline (clock ms), in deadline order: a Map iterates in insertion order. */
  private readonly due = new Map<HeartbeatDeadlineOwner, number>();
  private timer: TimerHandle | undefined;
  /** Expiring owners: an arm() from one of them must not set a second timer. */
  private firing = false;

  constructor(
    private readonly clock: Clock,
    readonly timeoutMs: number,
  ) {}

  get size(): number {
    return this.due.size;
  }

  /** (Re)starts `owner`'s countdown: its deadline is now + timeoutMs. */
  arm(owner: HeartbeatDeadlineOwner): void {
    const at = this.clock.now() + this.timeoutMs;
    this.due.delete(owner);
    this.due.set(owner, at);
    if (this.timer === undefined && !this.firing) this.schedule(at);
  }

  /** Stops `owner`'s countdown (its socket closed). */
  disarm(owner: HeartbeatDeadlineOwner): void {
    if (!this.due.delete(owner) || this.due.size > 0 || this.timer === undefined) return;
    this.clock.clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** Forgets every countdown (shutdown). */
  clear(): void {
    this.due.clear();
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
  }

  private schedule(at: number): void {
    this.timer = this.clock.setTimeout(this.fire, at - this.clock.now());
  }

  private readonly fire = (): void => {
    this.timer = undefined;
    const now = this.clock.now();
    this.firing = true;
    try {
      for (const [owner, at] of this.due) {
        if (at > now) break;
        this.due.delete(owner);
        owner.heartbeatDeadlinePassed();
      }
    } finally {
      this.firing = false;
    }
    for (const at of this.due.values()) {
      this.schedule(at);
      break;
    }
  };
}
