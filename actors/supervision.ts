// Restart policy for a crashed actor: restart with exponential backoff while
// it has crashed fewer than `maxRestarts` times within `withinMs`, else stop.

export interface SupervisionPolicy {
  strategy: 'restart' | 'stop';
  maxRestarts: number;
  withinMs: number;
  backoffMinMs: number;
  backoffMaxMs: number;
}

export const DEFAULT_SUPERVISION: SupervisionPolicy = {
  strategy: 'restart',
  maxRestarts: 3,
  withinMs: 5_000,
  backoffMinMs: 10,
  backoffMaxMs: 1_000,
};

/** Remembers recent crashes and decides, for each new one, restart-after-delay or stop. */
export class RestartTracker {
  private crashes: number[] = [];
  restarts = 0;

  constructor(private readonly policy: SupervisionPolicy) {}

  /** Milliseconds to wait before restarting, or undefined to stop. */
  onCrash(now: number): number | undefined {
    if (this.policy.strategy === 'stop') return undefined;
    this.crashes = this.crashes.filter((t) => now - t < this.policy.withinMs);
    if (this.crashes.length >= this.policy.maxRestarts) return undefined;
    this.crashes.push(now);
    this.restarts++;
    const exp = this.policy.backoffMinMs * 2 ** (this.crashes.length - 1);
    return Math.min(this.policy.backoffMaxMs, exp);
  }
}
