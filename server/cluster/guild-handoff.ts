// What a guild hands its next home in cluster mode, stored in its released
// lease entry (plain JSON, cluster/leases.ts): the sessions subscribed to it
// (refs as [node, id, kind] addresses) and the presences of their users. The
// next home reads it back (validated: it comes from another process), turns
// the addresses into refs and starts the guild with them, so its sessions stay
// subscribed and miss nothing. (enforce_nonce entries need no handing over:
// they are stored with their messages, and every guild start loads them.)
import { z } from 'zod';
import type { ActorRef, Address, Protocol } from '../../actors/index.js';
import type { SessionProtocol } from '../gateway/session-protocol.js';
import type { GuildStart } from '../guild/guild-actor.js';
import type { GuildHandoff } from '../guild/guild-protocol.js';

const token = z.string().min(1).max(200);

export const handoffSchema: z.ZodType<GuildHandoff> = z.object({
  subscribers: z.array(
    z.object({
      sessionId: token,
      session: z.tuple([token, token, token]),
      userId: token,
      intents: z.number().int().nonnegative(),
    }),
  ),
  presences: z.array(z.tuple([token, z.object({ status: z.string(), activities: z.array(z.unknown()) })])),
});

/** The guild's start from a handoff: refs of this system for the sessions' addresses. */
export function guildStartOf(handoff: GuildHandoff, refFor: (address: Address) => ActorRef<Protocol>): GuildStart {
  return {
    subscribers: handoff.subscribers.map((s) => {
      const [node, id, kind] = s.session;
      const ref = refFor({ node, id, kind }) as unknown as ActorRef<SessionProtocol>;
      return [s.sessionId, { ref, userId: s.userId, intents: s.intents }];
    }),
    presences: handoff.presences.map(([userId, p]) => [userId, { status: p.status, activities: p.activities }]),
  };
}
