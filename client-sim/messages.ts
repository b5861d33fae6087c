// Sending one tracked message: a random member of the guild posts it through
// REST with the key at the start of its content; every host is told the
// send time before each attempt (a 429 retry moves it) and the outcome after.
// As Discord's clients do, it sends a nonce with enforce_nonce, so a retry
// after a network error (a node draining or dying mid-request) returns the
// message the first attempt may have created instead of a second one.
import { createHash, randomBytes } from 'node:crypto';
import { now } from './clock.js';
import type { SessionPool } from './pool.js';
import type { RequestOptions, RestClient } from './rest.js';
import type { Rng } from './rng.js';
import type { World } from './world.js';

export interface SendCounters {
  messages: number;
  presence: number;
  failed: number;
}

/** Per process: a nonce of this run never meets one of an earlier run against the same server. */
const RUN_TAG = randomBytes(8).toString('hex');

/** Discord's nonce is at most 25 characters. */
function nonceOf(key: string): string {
  return createHash('sha256').update(`${RUN_TAG}:${key}`).digest('base64url').slice(0, 25);
}

/** Posts message `key` to guild index `guild`; resolves false (never rejects) when the send failed. */
export async function sendTrackedMessage(
  world: World,
  rest: RestClient,
  pool: SessionPool,
  rng: Rng,
  sent: SendCounters,
  guild: number,
  key: string,
  onFailure: (err: Error) => void = () => {},
  request: Pick<RequestOptions, 'unsampled'> & { nonce?: boolean } = {},
): Promise<boolean> {
  const idempotency = request.nonce === false ? {} : { nonce: nonceOf(key), enforce_nonce: true };
  const g = world.guilds[guild]!;
  const author = world.users[rng.pick(g.members)]!;
  try {
    await rest.request('POST', `/channels/${g.channelId}/messages`, {
      token: author.token,
      body: { content: `sim:${key} message ${key} from ${author.username}`, ...idempotency },
      route: 'POST /channels/{id}/messages',
      // Safe to repeat: enforce_nonce makes the guild answer a repeat with the first message.
      idempotent: request.nonce !== false,
      unsampled: request.unsampled,
      beforeAttempt: () => pool.register({ key, kind: 'message', guildIds: [g.id], sentAt: now() }),
    });
    pool.complete(key, now());
    sent.messages++;
    return true;
  } catch (err) {
    pool.fail(key);
    sent.failed++;
    onFailure(err as Error);
    return false;
  }
}
