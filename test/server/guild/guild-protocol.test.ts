// askGuild: retries what was certainly not handled (GUILD_MOVING, a stopped
// guild) with a bounded backoff, asking for the guild's ref each time; gives
// the refusal back after the last try; never retries anything else.
import { describe, expect, it } from 'vitest';
import { ActorErrorCode, type ActorRef, ActorSystem } from '../../../actors/index.js';
import { GUILD_MOVING, type GuildProtocol, type GuildReply, askGuild } from '../../../server/guild/guild-protocol.js';

function guildThat(system: ActorSystem, answers: (n: number) => GuildReply): { ref: ActorRef<GuildProtocol>; calls: () => number } {
  let n = 0;
  const ref = system.spawn<null, GuildProtocol>({
    kind: 'guild',
    init: () => null,
    handleCall: () => answers(++n),
  });
  return { ref, calls: () => n };
}

const ASK = { type: 'typing', channelId: '1', userId: '2' } as const;

describe('askGuild', () => {
  it('retries GUILD_MOVING until the guild answers, asking for the ref each time', async () => {
    const system = new ActorSystem();
    const g = guildThat(system, (n) => (n < 3 ? GUILD_MOVING : { ok: true, value: n }));
    let lookups = 0;
    const reply = await askGuild(() => (lookups++, g.ref), '1', ASK, undefined, [0, 1, 1, 1]);
    expect(reply).toEqual({ ok: true, value: 3 });
    expect(g.calls()).toBe(3);
    expect(lookups).toBe(3);
  });

  it('gives GUILD_MOVING back after the last try (the REST edge answers 503)', async () => {
    const system = new ActorSystem();
    const g = guildThat(system, () => GUILD_MOVING);
    expect(await askGuild(() => g.ref, '1', ASK, undefined, [0, 1, 1])).toEqual(GUILD_MOVING);
    expect(g.calls()).toBe(4);
  });

  it('does not retry other refusals', async () => {
    const system = new ActorSystem();
    const g = guildThat(system, () => ({ ok: false, error: 'NOT_MEMBER' }));
    expect(await askGuild(() => g.ref, '1', ASK, undefined, [0, 1, 1])).toEqual({ ok: false, error: 'NOT_MEMBER' });
    expect(g.calls()).toBe(1);
  });

  it('retries a stopped guild (a later lookup starts it anew) and throws once the tries run out', async () => {
    const system = new ActorSystem();
    const g = guildThat(system, () => ({ ok: true, value: 'ok' }));
    const stopped = system.refFor<GuildProtocol>({ node: system.node, id: 'guild:gone', kind: 'guild' });
    let lookups = 0;
    expect(await askGuild(() => (lookups++ === 0 ? stopped : g.ref), '1', ASK, undefined, [0, 1])).toEqual({ ok: true, value: 'ok' });
    await expect(askGuild(() => stopped, '1', ASK, undefined, [0, 1])).rejects.toMatchObject({ code: ActorErrorCode.STOPPED });
  });
});
