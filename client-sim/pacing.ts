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
  // A count and one waiter, not a Set raced with Promise.race: a race attaches a reaction to every
  // send in flight, so at the cap each send cost maxInFlight reactions (and their garbage), and a
  // load generator that fell behind got slower the further behind it was.
  let inFlight = 0;
  let wake: (() => void) | undefined;
  const settled = (): void => {
    inFlight--;
    const w = wake;
    wake = undefined;
    w?.();
  };
  const oneSettles = () => new Promise<void>((resolve) => (wake = resolve));
  let i = 0;
  for (; i < count && !stop(); i++) {
    const due = started + (i / perSecond) * 1000;
    if (due > stopAt) break;
    const wait = due - now();
    if (wait > 1) await sleep(wait);
    if (stop()) break;
    while (inFlight >= maxInFlight && now() < stopAt) await oneSettles();
    if (now() > stopAt) break;
    inFlight++;
    send(i).then(settled, settled);
  }
  while (inFlight > 0) await oneSettles();
  return i;
}
