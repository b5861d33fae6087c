// The one relay point every actor-to-actor message passes through. The
// tracing layer plugs in here as an interceptor, so this runtime never imports
// OpenTelemetry.
import { isEnvelope } from './envelope.js';
import type { MailboxEntry, MessageOp } from './mailbox.js';
import type { Address } from './ref.js';

export interface Interceptor {
  /**
   * Runs synchronously inside `send`/`cast`/`call`, in the sender's async
   * context. Returns the payload to enqueue: the message itself or an Envelope.
   */
  outbound?(message: unknown, target: Address, op: MessageOp): unknown;
  /**
   * Runs when `entry` is handled. Must call `handle` exactly once, with the
   * message for the next interceptor (or the actor), and return its result,
   * which may be a promise when the handler is async.
   */
  inbound?(entry: MailboxEntry, actor: Address, payload: unknown, handle: (payload: unknown) => unknown): unknown;
  /**
   * False while `inbound` has nothing to do with bare payloads (anything but
   * an Envelope): the relay then hands those straight on without calling it,
   * so untraced messages, the common case, pay no interceptor call (except one
   * that waited at least `slowMs`: a slow message may start a trace). Read for
   * every message, so it may change at any time; absent means true.
   */
  readonly inboundBare?: boolean;
}

/** Told of each message whose wait plus handling reached the threshold it was installed with. */
export interface SlowWatcher {
  /** `endedAt` is on the mailbox's clock, as are the entry's enqueuedAt and dequeuedAt. */
  slow(entry: MailboxEntry, actor: Address, endedAt: number): void;
}

export class Relay {
  /**
   * Tail capture threshold in ms (Infinity: none). A message that waited at
   * least this long reaches the inbound interceptors even when bare (a slow
   * message may start a trace), and one whose wait plus handling reached it
   * is reported to the watcher when done.
   */
  slowMs = Infinity;
  private watcher: SlowWatcher | undefined;

  // Interceptor objects are kept and their methods called directly (no bound
  // wrappers): this runs for every message, so each call counts.
  private outbounds: Interceptor[] = [];
  private inbounds: Interceptor[] = [];

  /** Installs an interceptor; returns a function that removes it. */
  use(interceptor: Interceptor): () => void {
    if (interceptor.outbound) this.outbounds = [...this.outbounds, interceptor];
    if (interceptor.inbound) this.inbounds = [...this.inbounds, interceptor];
    return () => {
      this.outbounds = this.outbounds.filter((i) => i !== interceptor);
      this.inbounds = this.inbounds.filter((i) => i !== interceptor);
    };
  }

  /** Installs the one slow-message watcher; returns a function that removes it. */
  watchSlow(thresholdMs: number, watcher: SlowWatcher): () => void {
    if (!(thresholdMs > 0)) throw new RangeError(`slow threshold must be positive, got ${thresholdMs}`);
    this.watcher = watcher;
    this.slowMs = thresholdMs;
    return () => {
      if (this.watcher !== watcher) return;
      this.watcher = undefined;
      this.slowMs = Infinity;
    };
  }

  /** Called by the cell for a slow message; a failing watcher never fails the actor. */
  slow(entry: MailboxEntry, actor: Address, endedAt: number): void {
    try {
      this.watcher?.slow(entry, actor, endedAt);
    } catch {
      // Tail capture is observability: it must not break serving.
    }
  }

  outbound(message: unknown, target: Address, op: MessageOp): unknown {
    const chain = this.outbounds;
    if (chain.length === 1) return chain[0]!.outbound!(message, target, op);
    let payload = message;
    for (let i = 0; i < chain.length; i++) payload = chain[i]!.outbound!(payload, target, op);
    return payload;
  }

  /**
   * Passes `entry` through the inbound interceptors to `handle`, which takes
   * the payload (enveloped or bare) and normalises it for the actor.
   */
  inbound(entry: MailboxEntry, actor: Address, handle: (payload: unknown) => unknown): unknown {
    const chain = this.inbounds;
    const payload = entry.payload;
    if (chain.length === 0) return handle(payload);
    if (chain.length === 1) {
      const only = chain[0]!;
      if (only.inboundBare === false && !isEnvelope(payload) && entry.dequeuedAt - entry.enqueuedAt < this.slowMs) return handle(payload);
      return only.inbound!(entry, actor, payload, handle);
    }
    return inboundChain(chain, entry, actor, payload, handle, entry.dequeuedAt - entry.enqueuedAt >= this.slowMs);
  }
}

// Its own function, not a closure inside Relay.inbound: a closure there made V8
// allocate a context object on every call, the single-interceptor path included
// (about 80 bytes per message, measured as 60 % more scavenges).
function inboundChain(chain: readonly Interceptor[], entry: MailboxEntry, actor: Address, payload: unknown, handle: (payload: unknown) => unknown, slow: boolean): unknown {
  const step = (i: number, p: unknown): unknown => {
    if (i === chain.length) return handle(p);
    const next = chain[i]!;
    if (next.inboundBare === false && !slow && !isEnvelope(p)) return step(i + 1, p);
    return next.inbound!(entry, actor, p, (q) => step(i + 1, q));
  };
  return step(0, payload);
}
