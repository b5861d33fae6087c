// What an actor is: a kind, an initial state, and handlers for call, cast and
// info messages (after Elixir's GenServer). State is the handler's to mutate.
import type { Clock } from './clock.js';
import type { ActorRef } from './ref.js';

/** The message types an actor understands. */
export interface Protocol {
  call?: unknown;
  reply?: unknown;
  cast?: unknown;
  info?: unknown;
}

export type CallOf<P extends Protocol> = P extends { call: infer C } ? C : never;
export type ReplyOf<P extends Protocol> = P extends { reply: infer R } ? R : unknown;
export type CastOf<P extends Protocol> = P extends { cast: infer C } ? C : never;
export type InfoOf<P extends Protocol> = P extends { info: infer I } ? I : never;

export type StopReason =
  | { type: 'normal' }
  | { type: 'shutdown' }
  | { type: 'crash'; error: unknown }
  | { type: 'overflow' };

export interface ActorContext<P extends Protocol = Protocol> {
  readonly self: ActorRef<P>;
  readonly id: string;
  readonly kind: string;
  readonly clock: Clock;
  /**
   * Messages waiting in the mailbox behind the one being handled. 0: nothing
   * else is queued for this actor right now, so work a handler would gather
   * across its messages (a socket write, say) gains nothing by waiting.
   */
  readonly waiting: number;
  /** Stops this actor once the current message is handled. */
  stop(reason?: StopReason): void;
  /** Sends `info` to this actor after `ms`; the timer dies with the actor (or its restart). */
  sendAfter(ms: number, info: InfoOf<P>): () => void;
  /**
   * Answers the call being handled later instead of with the handler's return
   * value (Elixir's `{:noreply, state}` and `GenServer.reply/2`): the actor
   * goes on to its next message while the caller waits, e.g. for a commit.
   * Only during a `call`; the caller's timeout still applies.
   */
  deferReply(): DeferredReply<ReplyOf<P>>;
}

/** A reply owed to a caller; the first resolve or reject wins, later ones do nothing. */
export interface DeferredReply<R> {
  resolve(value: R): void;
  reject(error: Error): void;
}

type MaybePromise<T> = T | Promise<T>;

export interface Behaviour<S, P extends Protocol = Protocol> {
  /** Actor kind, shown in traces and metrics: `guild`, `session`. */
  readonly kind: string;
  init(ctx: ActorContext<P>): MaybePromise<S>;
  handleCall?(message: CallOf<P>, state: S, ctx: ActorContext<P>): MaybePromise<ReplyOf<P>>;
  handleCast?(message: CastOf<P>, state: S, ctx: ActorContext<P>): MaybePromise<void>;
  handleInfo?(message: InfoOf<P>, state: S, ctx: ActorContext<P>): MaybePromise<void>;
  /** Last words, on any stop. Errors here are reported, never thrown. */
  terminate?(reason: StopReason, state: S | undefined, ctx: ActorContext<P>): void;
}
