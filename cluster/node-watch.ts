// Which nodes are alive, by heartbeat: each node publishes one every
// `heartbeatMs`; a node not heard from for `downAfterMs` is declared down
// (checked every `heartbeatMs`), so a node that vanishes (kill -9, network
// cut) is known to be gone within downAfterMs + heartbeatMs of its last beat.
// A node we start talking to before its first beat gets the same grace.
import type { Clock, TimerHandle } from '../actors/index.js';

export interface NodeWatchOptions {
  clock: Clock;
  heartbeatMs: number;
  downAfterMs: number;
  /** Publishes this node's heartbeat. */
  beat(): void;
  /** Told once per node that goes down (until it is heard from again). */
  onDown(node: string): void;
}

export class NodeWatch {
  private readonly lastSeen = new Map<string, number>();
  private readonly down = new Set<string>();
  private timer: TimerHandle | undefined;

  constructor(private readonly options: NodeWatchOptions) {}

  start(): void {
    this.options.beat();
    const tick = () => {
      this.options.beat();
      this.sweep();
      this.timer = this.options.clock.setTimeout(tick, this.options.heartbeatMs);
    };
    this.timer = this.options.clock.setTimeout(tick, this.options.heartbeatMs);
  }

  stop(): void {
    if (this.timer !== undefined) this.options.clock.clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** A heartbeat (or any frame) from `node`. */
  heard(node: string): void {
    this.lastSeen.set(node, this.options.clock.now());
    this.down.delete(node);
  }

  /** We are about to depend on `node`: start its grace period if it is new to us. */
  expect(node: string): void {
    if (!this.lastSeen.has(node) && !this.down.has(node)) this.lastSeen.set(node, this.options.clock.now());
  }

  isDown(node: string): boolean {
    return this.down.has(node);
  }

  /** A node said goodbye (clean shutdown): down now, without waiting for the bound. */
  left(node: string): void {
    if (this.down.has(node)) return;
    this.lastSeen.delete(node);
    this.down.add(node);
    this.options.onDown(node);
  }

  private sweep(): void {
    const now = this.options.clock.now();
    for (const [node, seen] of this.lastSeen) {
      if (now - seen <= this.options.downAfterMs) continue;
      this.lastSeen.delete(node);
      this.down.add(node);
      this.options.onDown(node);
    }
  }
}
