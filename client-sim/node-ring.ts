// The nodes of a cluster as a client sees them without a load balancer:
// requests go round-robin over the base URLs, and a node that refused a
// connection is passed over for a moment (as a balancer's health check
// would), so a node that is down or restarting costs one failed attempt,
// not one in N of every request.
import { now } from './clock.js';

/** How long a node that refused a connection is passed over. */
const DOWN_MS = 1_000;

export class NodeRing {
  private i = 0;
  private readonly downUntil = new Map<string, number>();

  constructor(readonly urls: readonly string[]) {
    if (urls.length === 0) throw new Error('NodeRing needs at least one URL');
  }

  /** The next URL in turn that is not known to be down (or the next one anyway, when all are). */
  next(): string {
    const t = now();
    for (let k = 0; k < this.urls.length; k++) {
      const url = this.urls[this.i++ % this.urls.length]!;
      if ((this.downUntil.get(url) ?? 0) <= t) return url;
    }
    return this.urls[this.i++ % this.urls.length]!;
  }

  /** `url` refused a connection (or could not be reached): pass it over for a moment. */
  failed(url: string): void {
    this.downUntil.set(url, now() + DOWN_MS);
  }
}
