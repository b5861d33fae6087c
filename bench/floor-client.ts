// Clients for the floor server: N plain WebSocket connections that parse
// every frame and match its nonce, as client-sim's sessions do, so both
// sides of the comparison pay the same client work. Same interface as
// client-sim's BroadcastDriver (connect, burst, close).
import WebSocket from 'ws';
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

export class FloorClient {
  private readonly sockets: WebSocket[] = [];
  private current: Burst | undefined;
  private bursts = 0;

  constructor(
    private readonly url: string,
    private readonly size: number,
    private readonly connectRate: number,
  ) {}

  async connect(timeoutMs = 120_000): Promise<number> {
    const ws = this.url.replace(/^http/, 'ws') + '/gateway';
    let open = 0;
    await pacedUntil(this.size, this.connectRate, now() + timeoutMs, async (index) => {
      const socket = new WebSocket(ws, { perMessageDeflate: false });
      this.sockets.push(socket);
      socket.on('message', (data) => this.onMessage(index, String(data)));
      socket.on('error', () => {});
      await new Promise<void>((resolve) => {
        socket.once('open', () => (open++, resolve()));
        socket.once('close', () => resolve());
      });
    }, 1_000_000);
    return open;
  }

  private onMessage(socket: number, text: string): void {
    const at = now();
    const p = JSON.parse(text) as { d?: { content?: string } };
    const key = nonceOf(p.d?.content);
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
    const open = this.sockets.filter((s) => s.readyState === WebSocket.OPEN).length;
    const b: Burst = { prefix: `f${n}-`, sentAt: new Float64Array(messages), counts: new Uint8Array(this.sockets.length * messages), messages, outstanding: 0, fanout: new LatencyHistogram() };
    this.current = b;
    let sent = 0;
    let failed = 0;
    const started = now();
    await pacedUntil(messages, perSecond, started + timeoutMs, async (i) => {
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
    }, maxInFlight);
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

  async close(): Promise<void> {
    await Promise.all(
      this.sockets.map(
        (s) =>
          new Promise<void>((resolve) => {
            if (s.readyState === WebSocket.CLOSED) return resolve();
            const t = setTimeout(() => (s.terminate(), resolve()), 1_000);
            s.once('close', () => (clearTimeout(t), resolve()));
            s.close(1000);
          }),
      ),
    );
  }
}
