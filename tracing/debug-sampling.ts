// Debug sampling: for a while, trace EVERYTHING that belongs to one key (the
// server uses guild ids), whatever the root sampler and fanout sampling say.
// It is for the engineer chasing one troubled guild: turn it on for some
// minutes, look, and it switches itself off.
//
// This registry only knows opaque keys and "until" timestamps; the server says
// how to find a key in a span's attributes (`keyOf`) and in an actor's address
// (`actorKey`). Windows expire by time alone, checked when asked, so there is
// no timer to leak and a test can move an injected clock instead of sleeping.
//
// Cost when no window is open: the callers check `size === 0` first, one
// property read, so the hot paths (fanout, handling bare messages, every span
// start) pay nothing measurable.
import type { Attributes } from '@opentelemetry/api';

export interface DebugWindow {
  key: string;
  /** Wall-clock milliseconds since the Unix epoch when the window opened. */
  since: number;
  /** ... and when it closes by itself. */
  until: number;
}

export interface DebugSamplingOptions {
  /** Wall-clock milliseconds (default Date.now); injectable so tests need not wait for minutes. */
  now?: () => number;
  /** Which key a span belongs to, from its start attributes (undefined: none). */
  keyOf?: (attributes: Attributes) => string | undefined;
  /** Which key a bare message to this actor belongs to, if a debug window should make it a root. */
  actorKey?: (kind: string, id: string) => string | undefined;
}

export class DebugSampling {
  readonly now: () => number;
  private readonly windows = new Map<string, DebugWindow>();
  private readonly keyOfFn: (attributes: Attributes) => string | undefined;
  private readonly actorKeyFn: (kind: string, id: string) => string | undefined;

  constructor(options: DebugSamplingOptions = {}) {
    this.now = options.now ?? Date.now;
    this.keyOfFn = options.keyOf ?? (() => undefined);
    this.actorKeyFn = options.actorKey ?? (() => undefined);
  }

  /** Opens (or extends, or shortens) the window for `key`, for `durationMs` from now. */
  enable(key: string, durationMs: number): DebugWindow {
    if (!(durationMs > 0) || !Number.isFinite(durationMs)) throw new RangeError(`debug window must be a positive duration, got ${durationMs}`);
    const now = this.now();
    const window: DebugWindow = { key, since: this.window(key)?.since ?? now, until: now + durationMs };
    this.windows.set(key, window);
    return { ...window };
  }

  /** Closes the window for `key` early; false if there was none open. */
  disable(key: string): boolean {
    const open = this.window(key) !== undefined;
    this.windows.delete(key);
    return open;
  }

  /** The open window for `key`, if any (an expired one is forgotten here). */
  window(key: string): DebugWindow | undefined {
    const w = this.windows.get(key);
    if (w === undefined) return undefined;
    if (w.until <= this.now()) {
      this.windows.delete(key);
      return undefined;
    }
    return { ...w };
  }

  /** Every open window, soonest to close first. */
  list(): DebugWindow[] {
    const now = this.now();
    const out: DebugWindow[] = [];
    for (const [key, w] of this.windows) {
      if (w.until <= now) this.windows.delete(key);
      else out.push({ ...w });
    }
    return out.sort((a, b) => a.until - b.until);
  }

  /** Windows held (some may have expired but not been noticed yet): 0 means "nothing to check". */
  get size(): number {
    return this.windows.size;
  }

  isActive(key: string | undefined): boolean {
    if (key === undefined || this.windows.size === 0) return false;
    const w = this.windows.get(key);
    if (w === undefined) return false;
    if (w.until > this.now()) return true;
    this.windows.delete(key);
    return false;
  }

  /** The key of a span with these start attributes, when its window is open. */
  activeKeyOf(attributes: Attributes | undefined): string | undefined {
    if (attributes === undefined || this.windows.size === 0) return undefined;
    const key = this.keyOfFn(attributes);
    return this.isActive(key) ? key : undefined;
  }

  /** Whether a bare message to this actor should start a debug root. */
  activeForActor(kind: string, id: string): boolean {
    return this.windows.size !== 0 && this.isActive(this.actorKeyFn(kind, id));
  }
}
