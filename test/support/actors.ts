// Helpers for tests that drive the real actor runtime.
import type { ActorSystem } from '../../actors/index.js';

/** Waits for event-loop turns until the scheduler has nothing left to run (bounded). */
export async function settle(system: ActorSystem, maxTurns = 10_000): Promise<void> {
  for (let i = 0; i < maxTurns; i++) {
    await new Promise((resolve) => setImmediate(resolve));
    if (system.scheduler.pending === 0) {
      await new Promise((resolve) => setImmediate(resolve));
      if (system.scheduler.pending === 0) return;
    }
  }
  throw new Error('scheduler did not settle');
}

/** A promise with its resolve function, for handlers the test releases by hand. */
export function deferred<T = void>(): { promise: Promise<T>; resolve: (v: T) => void } {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}
