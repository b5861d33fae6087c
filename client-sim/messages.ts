// Sending one tracked message: a random member of the guild posts it through
// REST with the nonce at the start of its content; every host is told the
// send time before each attempt (a 429 retry moves it) and the outcome after.
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
  request: Pick<RequestOptions, 'unsampled'> = {},
): Promise<boolean> {
  const g = world.guilds[guild]!;
  const author = world.users[rng.pick(g.members)]!;
  try {
    await rest.request('POST', `/channels/${g.channelId}/messages`, {
      token: author.token,
      body: { content: `sim:${key} message ${key} from ${author.username}` },
      route: 'POST /channels/{id}/messages',
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
