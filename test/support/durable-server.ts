// A Guildhall server in a process of its own, for tests that kill it: the real
// createServer on whatever DATABASE_URL names, with the per-user request rate
// lifted (durability tests post thousands of messages from a few users).
//
//   node --import tsx test/support/durable-server.ts [--setup N]
//
// Prints one JSON line when listening: { url, world? }. With --setup N and an
// empty database it first makes N users and one guild they all belong to, and
// `world` holds their tokens and the guild's channel. SIGTERM closes cleanly.
import { createServer } from '../../server/app.js';
import { issueToken } from '../../server/auth/token.js';
import { loadConfig } from '../../server/config.js';

export interface DurableWorld {
  users: { id: string; token: string }[];
  guildId: string;
  channelId: string;
}

const setupAt = process.argv.indexOf('--setup');
const userCount = setupAt === -1 ? 0 : Number(process.argv[setupAt + 1]);

// Discord's per-route pacing (5 posts per 5 s per channel) is off: the tests post thousands.
const config = loadConfig({ ...process.env, PORT: process.env.PORT ?? '0', LOG_LEVEL: process.env.LOG_LEVEL ?? 'silent', GUILDHALL_SEED: 'false', GUILDHALL_ROUTE_RATE_LIMITS: 'off' });
// OTEL_* only as the parent passed them (cluster trace tests); none by default.
const server = await createServer(config, { tracingEnv: process.env, rateLimitPerSecond: 1_000_000 });
const url = await server.listen();

let world: DurableWorld | undefined;
if (userCount > 0) {
  const store = server.ctx.store;
  const secret = server.ctx.config.tokenSecret;
  const users: DurableWorld['users'] = [];
  for (let i = 0; i < userCount; i++) {
    const user = await store.createUser({ username: `durable-${i}` });
    users.push({ id: user.id, token: issueToken(secret, user.id) });
  }
  const guild = await store.createGuild({ name: 'Durable', owner_id: users[0]!.id });
  for (const u of users.slice(1)) await store.addMember(guild.id, u.id);
  const [general] = await store.listChannels(guild.id);
  world = { users, guildId: guild.id, channelId: general!.id };
}

process.stdout.write(`${JSON.stringify({ url, world })}\n`);
process.once('SIGTERM', () => {
  void server.close().then(() => process.exit(0));
});
