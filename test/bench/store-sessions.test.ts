import { afterEach, describe, expect, it } from 'vitest';
import { HistogramSet } from '../../client-sim/histograms.js';
import { GATEWAY_QUERY, MESSAGE_INTENTS } from '../../client-sim/protocol.js';
import { NetPoster } from '../../bench/store-net-poster.js';
import { LeanSessions } from '../../bench/store-sessions.js';
import { type TestServer, startTestServer } from '../support/world.js';

describe("bench:store's lean gateway sessions and net posters against a real server", () => {
  let server: TestServer | undefined;
  let sessions: LeanSessions | undefined;
  afterEach(async () => {
    await sessions?.close();
    await server?.close();
    sessions = server = undefined;
  });

  it('every session gets ready and counts each MESSAGE_CREATE of its guild once, with no sequence gap', async () => {
    server = await startTestServer();
    const users = await Promise.all(['a', 'b', 'c', 'd'].map((n) => server!.user(n)));
    const one = await server.guild(users[0]!.id, [users[1]!.id, users[2]!.id]);
    const two = await server.guild(users[3]!.id, []);
    const gateway = (await (await fetch(`${server.url}/api/v10/gateway`)).json()) as { url: string };
    sessions = LeanSessions.start({
      url: `${gateway.url.replace(/\/+$/, '')}?${GATEWAY_QUERY}`,
      intents: MESSAGE_INTENTS,
      sessions: [
        ...users.slice(0, 3).map((u) => ({ token: u.token, guildIds: [one.id] })),
        { token: users[3]!.token, guildIds: [two.id] },
      ],
      connectPerS: 1_000,
    });
    const ready = await sessions.waitFor((s) => s.complete + s.failed >= s.sessions, 10_000);
    expect(ready.stats).toMatchObject({ sessions: 4, complete: 4, failed: 0, messageCreates: 0 });

    const poster = new NetPoster(server.url, new HistogramSet());
    try {
      for (let i = 0; i < 20; i++) expect(await poster.post(one.channelId, users[i % 3]!.token, `m${i}`)).toBe(true);
      for (let i = 0; i < 5; i++) expect(await poster.post(two.channelId, users[3]!.token, `n${i}`)).toBe(true);
      // Not a member of guild two: refused, and counted as the poster's error.
      expect(await poster.post(two.channelId, users[0]!.token, 'refused')).toBe(false);
      expect(poster.errors).toBe(1);
    } finally {
      poster.close();
    }
    // 20 posts to 3 members and 5 to 1.
    const done = await sessions.waitFor((s) => s.messageCreates >= 65, 10_000);
    await new Promise((r) => setTimeout(r, 100));
    expect(await sessions.stats()).toEqual({ sessions: 4, complete: 4, failed: 0, messageCreates: 65, seqGaps: 0, unexpected: 0 });
    expect(done.ok).toBe(true);
  });
});
