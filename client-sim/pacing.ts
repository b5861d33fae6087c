// Paced sending: `send(i)` for i in [0, count) at a steady rate, with a
// bounded number in flight, never past a deadline.
import { now, sleep } from './clock.js';

/** Requests in flight at most while sending; beyond it the pacer waits. */
export const MAX_IN_FLIGHT = 256;

/**
 * Resolves when every started send has finished; returns how many were started. `stop`, when
 * given, ends the sending early once it returns true (checked before each send).
 */
export async function pacedUntil(
  count: number,
  perSecond: number,
  stopAt: number,
  send: (i: number) => Promise<unknown>,
  maxInFlight = MAX_IN_FLIGHT,
  stop: () => boolean = () => false,
): Promise<number> {
  const started = now();
  const inFlight = new Set<Promise<unknown>>();
  let i = 0;
  for (; i < count && !stop(); i++) {
    const due = started + (i / perSecond) * 1000;
    if (due > stopAt) break;
    const wait = due - now();
    if (wait > 1) await sleep(wait);
    if (stop()) break;
    while (inFlight.size >= maxInFlight && now() < stopAt) await Promise.race(inFlight);
    if (now() > stopAt) break;
    const p: Promise<unknown> = send(i).catch(() => undefined);
    inFlight.add(p);
    void p.finally(() => inFlight.delete(p));
  }
  await Promise.all(inFlight);
  return i;
}
