// A ref is an address, not a pointer: the same API reaches a local actor or,
// through a cluster router, one on another node.
import type { CallOf, CastOf, InfoOf, Protocol, ReplyOf } from './behaviour.js';
import type { MessageOp, PendingReply } from './mailbox.js';

export interface Address {
  /** Node that hosts the actor. */
  readonly node: string;
  /** Unique on its node; the registry key when spawned with one. */
  readonly id: string;
  /** Behaviour kind (`guild`, `session`). */
  readonly kind: string;
}

/** Where refs hand their messages: the actor system's relay point. */
export interface Router {
  route(target: Address, op: MessageOp, message: unknown, reply?: PendingReply): boolean;
  call(target: Address, message: unknown, timeoutMs?: number): Promise<unknown>;
}

export interface CallOptions {
  /** Milliseconds before the call rejects with ACTOR_ERR_CALL_TIMEOUT. */
  timeoutMs?: number;
}

export class ActorRef<P extends Protocol = Protocol> {
  constructor(
    readonly address: Address,
    private readonly router: Router,
  ) {}

  /** Raw info message, fire and forget. False if it was not accepted. */
  send(info: InfoOf<P>): boolean {
    return this.router.route(this.address, 'info', info);
  }

  /** Typed fire and forget. False if it was not accepted (stopped, or mailbox full). */
  cast(message: CastOf<P>): boolean {
    return this.router.route(this.address, 'cast', message);
  }

  /** Request and reply; rejects with an ActorError on timeout, stop, overflow or crash. */
  call(message: CallOf<P>, options?: CallOptions): Promise<ReplyOf<P>> {
    return this.router.call(this.address, message, options?.timeoutMs) as Promise<ReplyOf<P>>;
  }

  toString(): string {
    return `${this.address.kind}:${this.address.id}@${this.address.node}`;
  }
}
