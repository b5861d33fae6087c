// The client side of the benchmark's own servers (the floors and Socket.IO):
// N sockets that each parse every message and match its nonce, as client-sim's
// sessions do, and bursts triggered by POST /broadcast, with the accounting of
// client-sim's BroadcastDriver (sent, expected, delivered, lost, duplicated,
// fanout latency from each send to each receipt). Subclasses own the sockets.
import type { BurstOptions, BurstResult } from '../client-sim/broadcast-driver.js';
import { now, sleep } from '../client-sim/clock.js';
import { LatencyHistogram } from '../client-sim/histograms.js';
import { pacedUntil } from '../client-sim/pacing.js';
import { nonceOf } from '../client-sim/protocol.js';

interface Burst {
  prefix: string;
  sentAt: Float64Array;
  /** counts[socket * messages + i] */
  counts: Uint8Array;
  messages: number;
  outstanding: number;
  fanout: LatencyHistogram;
}

export abstract class BroadcastClient {
  private current: Burst | undefined;
  private bursts = 0;

  constructor(protected readonly url: string) {}

  /** Opens the sockets; resolves with how many are open. */
  abstract connect(timeoutMs?: number): Promise<number>;
  abstract close(): Promise<void>;
  /** Sockets made (open or not): socket indexes run below it. */
  protected abstract get socketCount(): number;
  protected abstract get openCount(): number;
  /** A short tag for this client's nonces. */
  protected abstract readonly tag: string;

  /** Socket `socket` received a message whose content is `content` (parsed by the subclass, as a client would). */
  protected receive(socket: number, content: unknown, at: number): void {
    const key = nonceOf(content);
    const b = this.current;
    if (!b || key === undefined || !key.startsWith(b.prefix)) return;
    const i = Number(key.slice(b.prefix.length));
    const slot = socket * b.messages + i;
    if (b.counts[slot]! < 255) b.counts[slot]!++;
    if (b.counts[slot] === 1) b.outstanding--;
    b.fanout.record(at - b.sentAt[i]!);
  }

  /** As BroadcastDriver.burst; `unsampled` means nothing to a server that does not trace. */
  async burst(messages: number, perSecond: number, { timeoutMs = 60_000, maxInFlight = 16 }: BurstOptions = {}): Promise<BurstResult> {
    const n = ++this.bursts;
    const open = this.openCount;
    const b: Burst = { prefix: `${this.tag}${n}-`, sentAt: new Float64Array(messages), counts: new Uint8Array(this.socketCount * messages), messages, outstanding: 0, fanout: new LatencyHistogram() };
    this.current = b;
    let sent = 0;
    let failed = 0;
    const started = now();
    await pacedUntil(
      messages,
      perSecond,
      started + timeoutMs,
      async (i) => {
        b.sentAt[i] = now();
        b.outstanding += open;
        try {
          const res = await fetch(`${this.url}/broadcast`, { method: 'POST', body: JSON.stringify({ key: `${b.prefix}${i}` }), headers: { 'content-type': 'application/json' } });
          await res.text();
          if (res.ok) sent++;
          else failed++;
        } catch {
          failed++;
        }
      },
      maxInFlight,
    );
    while (b.outstanding > 0 && now() - started < timeoutMs) await sleep(5);
    const wallS = (now() - started) / 1000;
    let delivered = 0;
    let duplicated = 0;
    for (const c of b.counts) {
      if (c > 0) delivered++;
      if (c > 1) duplicated += c - 1;
    }
    const expected = open * sent;
    return { sent, failed, expected, delivered, lost: Math.max(0, expected - delivered), duplicated, unexpected: 0, seqGaps: 0, wallS, deliveriesPerS: delivered / Math.max(wallS, 1e-3), fanout: b.fanout.summary() };
  }
}
