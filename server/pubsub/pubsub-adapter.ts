// How a pub/sub topic's broadcast reaches its subscribers (after Phoenix.PubSub's
// adapters: https://hexdocs.pm/phoenix_pubsub/Phoenix.PubSub.Adapter.html).
// The local adapter hands the whole list to the actor system's broadcast,
// which already sends one message per remote node for refs that live
// elsewhere (cluster/remote-router.ts). A cluster adapter (issue 14) will
// implement the same interface once subscriber lists are kept per node.
import type { ActorRef, ActorSystem, BroadcastOptions, BroadcastResult, Protocol } from '../../actors/index.js';

export interface PubSubAdapter {
  /** Delivers `message` to every subscriber ref of one topic. */
  broadcast<P extends Protocol>(subscribers: readonly ActorRef<P>[], message: unknown, options: BroadcastOptions): BroadcastResult;
}

/** Subscribers are refs the system can reach: through its relay, local or remote. */
export class LocalAdapter implements PubSubAdapter {
  constructor(private readonly system: Pick<ActorSystem, 'broadcast'>) {}

  broadcast<P extends Protocol>(subscribers: readonly ActorRef<P>[], message: unknown, options: BroadcastOptions): BroadcastResult {
    return this.system.broadcast(subscribers, message, options);
  }
}
