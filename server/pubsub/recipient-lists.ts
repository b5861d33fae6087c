// A topic's recipient lists, kept between subscription changes. Every
// broadcast of a guild goes to the same few lists (one per event intent, split
// by the MESSAGE_CONTENT intent when the event has a stripped form), and a
// guild broadcasts far more often than its sessions come and go: rebuilding
// the lists from the subscriber map on every message cost an array push and a
// filter per recipient per message. The topic clears this on every
// subscription change; a list once handed out is never changed (a new one is
// built after the change), so a broadcast in flight keeps a stable list.
import type { ActorRef } from '../../actors/index.js';
import { GatewayIntentBits } from '../gateway/protocol.js';
import type { SessionProtocol } from '../gateway/session-protocol.js';

export interface RecipientSource {
  readonly ref: ActorRef<SessionProtocol>;
  readonly intents: number;
}

export interface Recipients {
  /** Sessions that get the event as it is. */
  readonly full: readonly ActorRef<SessionProtocol>[];
  /** Sessions that get its stripped form (only when the broadcast has one). */
  readonly stripped: readonly ActorRef<SessionProtocol>[];
}

const NONE: readonly ActorRef<SessionProtocol>[] = [];

export class RecipientLists {
  /** By intent and whether the broadcast splits (see keyOf). */
  private readonly lists = new Map<number, Recipients>();

  /**
   * The recipients of an event wanting `intent` (every session when undefined);
   * with `split`, sessions without MESSAGE_CONTENT go to `stripped`.
   */
  get(intent: number | undefined, split: boolean, subscribers: () => Iterable<RecipientSource>): Recipients {
    const key = keyOf(intent, split);
    let lists = this.lists.get(key);
    if (lists === undefined) {
      lists = build(intent, split, subscribers());
      this.lists.set(key, lists);
    }
    return lists;
  }

  /** Forgets every list: the subscribers changed. */
  clear(): void {
    if (this.lists.size > 0) this.lists.clear();
  }
}

/** Intents are single bits below 2^30, so this is exact and distinct per (intent, split). */
function keyOf(intent: number | undefined, split: boolean): number {
  return (intent === undefined ? -1 : intent) * 2 + (split ? 1 : 0);
}

function build(intent: number | undefined, split: boolean, subscribers: Iterable<RecipientSource>): Recipients {
  const full: ActorRef<SessionProtocol>[] = [];
  const stripped: ActorRef<SessionProtocol>[] = [];
  for (const s of subscribers) {
    if (intent !== undefined && (s.intents & intent) === 0) continue;
    if (split && (s.intents & GatewayIntentBits.MessageContent) === 0) stripped.push(s.ref);
    else full.push(s.ref);
  }
  return { full, stripped: stripped.length > 0 ? stripped : NONE };
}
