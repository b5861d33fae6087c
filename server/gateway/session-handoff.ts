// A session moving to another node (a RESUME there, after a drain's RECONNECT
// or a client that switched nodes): the new session asks the old one for its
// resume state, the old one forwards what still reaches it, and each guild
// swaps the old ref for the new one and then sends the old session a
// `swapped` marker. The new session holds what guilds send it directly until
// every guild's marker has come through the forwarder, so the client sees
// nothing lost, nothing twice and nothing out of order. Why the order holds:
// docs/cluster.md, "Sessions: handoff". Dispatches cross as the registered
// wire type (server/cluster/dispatch-wire.ts): the encoded head, not re-encoded.
import { randomBytes } from 'node:crypto';
import type { ActorRef, ActorSystem } from '../../actors/index.js';
import type { EncodedDispatch } from './dispatch.js';
import type { PresenceUpdateData } from './protocol.js';
import type { ResumeOutcome, SessionCast, SessionProtocol } from './session-protocol.js';

/** What the old session forwards: everything a guild or its node sent it after the handoff, in arrival order. */
export type ForwardedItem =
  | { kind: 'dispatch'; dispatch: EncodedDispatch }
  | { kind: 'guild_joined'; guildId: string }
  | { kind: 'guild_removed'; guildId: string }
  /** The guild's marker: it has swapped, everything it sent the old session is ahead of this. */
  | { kind: 'swapped'; guildId: string };

/** The old session's state, as plain data: enough to go on as if nothing had moved. */
export interface HandoffState {
  /** The last seq the old session gave out. */
  seq: number;
  /** The dispatches after the client's seq, oldest first (seqs client seq + 1 ... `seq`). */
  missed: EncodedDispatch[];
  guildIds: string[];
  intents: number;
  shard: [number, number];
  largeThreshold: number;
  presence: PresenceUpdateData | null;
}

export type HandoffReply = { ok: true; state: HandoffState } | { ok: false; outcome: Exclude<ResumeOutcome, 'resumed'> };

/** How long a new session waits for one candidate's answer. */
export const HANDOFF_CALL_MS = 5_000;
/** How long an old session forwards at most (its guilds' markers normally come within a round trip). */
export const HANDOFF_LINGER_MS = 30_000;

// A session id is 32 hex digits, then, in cluster mode, `.` and the node it
// was identified on: the first place a RESUME elsewhere looks (node ids are
// NATS subject tokens, so they never contain a `.`).
const TAG = '.';

export function newSessionId(node: string | undefined): string {
  const id = randomBytes(16).toString('hex');
  return node === undefined ? id : `${id}${TAG}${node}`;
}

/** The node a session id was made on, if it says. */
export function sessionNodeOf(sessionId: string): string | undefined {
  const at = sessionId.indexOf(TAG);
  return at < 0 || at === sessionId.length - 1 ? undefined : sessionId.slice(at + 1);
}

/**
 * Where a session not running here may be: the node its id names first (it
 * is there unless it moved), then every other live node (it moved once
 * already, e.g. during a rolling restart).
 */
export function handoffCandidates(system: ActorSystem, key: string, sessionId: string, peers: readonly string[]): ActorRef<SessionProtocol>[] {
  const nodes: string[] = [];
  const tagged = sessionNodeOf(sessionId);
  if (tagged !== undefined && tagged !== system.node) nodes.push(tagged);
  for (const node of peers) if (node !== system.node && !nodes.includes(node)) nodes.push(node);
  return nodes.map((node) => system.refFor<SessionProtocol>({ node, id: key, kind: 'session' }));
}

/**
 * The old session's side: from the handoff on, it numbers nothing and writes
 * nothing; what guilds (and its node) send it goes to the new session, in the
 * order it came. Done when every guild's marker has been passed on.
 */
export class Forwarder {
  private readonly awaiting: Set<string>;

  constructor(
    readonly to: ActorRef<SessionProtocol>,
    guildIds: Iterable<string>,
  ) {
    this.awaiting = new Set(guildIds);
  }

  get done(): boolean {
    return this.awaiting.size === 0;
  }

  /** Passes `msg` on if it is something the new session needs; messages from the old connection are dropped. */
  forward(msg: SessionCast): void {
    switch (msg.type) {
      case 'dispatch':
        this.to.cast({ type: 'forwarded', item: { kind: 'dispatch', dispatch: msg.event } });
        return;
      case 'guild_joined':
      case 'guild_removed':
        this.to.cast({ type: 'forwarded', item: { kind: msg.type, guildId: msg.guildId } });
        return;
      case 'swapped':
        this.to.cast({ type: 'forwarded', item: { kind: 'swapped', guildId: msg.guildId } });
        this.awaiting.delete(msg.guildId);
        return;
      default:
        return;
    }
  }
}

/** What a guild (or the node) casts that must keep its place behind the forwarded stream. */
export type HeldCast = Extract<SessionCast, { type: 'dispatch' | 'guild_joined' | 'guild_removed' }>;

export function isHeld(msg: SessionCast): msg is HeldCast {
  return msg.type === 'dispatch' || msg.type === 'guild_joined' || msg.type === 'guild_removed';
}

/**
 * The new session's side: until every guild's marker has arrived through the
 * forwarder, what comes straight from guilds waits here (in arrival order);
 * then it is released, behind everything the old session forwarded.
 */
export class Takeover {
  private readonly pending: Set<string>;
  private held: HeldCast[] = [];
  /** Stops watching the old session (set by the session once it monitors it). */
  unmonitor: () => void = () => {};

  constructor(
    readonly from: ActorRef<SessionProtocol>,
    guildIds: Iterable<string>,
  ) {
    this.pending = new Set(guildIds);
  }

  get done(): boolean {
    return this.pending.size === 0;
  }

  get waitingFor(): readonly string[] {
    return [...this.pending];
  }

  hold(msg: HeldCast): void {
    this.held.push(msg);
  }

  /** A guild's marker came (or the guild is given up): the held casts, in order, once none is pending. */
  settle(guildId: string): HeldCast[] | undefined {
    this.pending.delete(guildId);
    if (this.pending.size > 0) return undefined;
    const released = this.held;
    this.held = [];
    return released;
  }
}
