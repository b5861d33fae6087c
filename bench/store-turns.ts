// Event-loop turns between a post's request and its answer: a count, not a
// time, so it can be compared on a loaded machine. The server runs in this
// process (test/support/server.ts, real HTTP on a real socket) and a
// node:http client posts one message at a time; a setImmediate that
// re-queues itself counts the loop's turns. Each turn a post spans is a poll
// phase it waits behind when the server has a queue. SQLite :memory: only:
// there the whole path is work on this thread, so every turn is one the post
// needed; with a file or PostgreSQL the counter also spins through idle turns
// while the commit waits for its fsync, which makes the count a time.
//
//   node --import tsx bench/store-turns.ts [--posts 200]
import http from 'node:http';
import { z } from 'zod';
import { startTestServer } from '../test/support/server.js';
import { parseFlags } from './flags.js';

const flags = parseFlags(
  process.argv.slice(2),
  { posts: { type: 'string', default: '200' } },
  z.object({ posts: z.coerce.number().int().min(1).max(100_000) }),
  (message) => {
    process.stderr.write(`bench/store-turns: ${message}\nusage: node --import tsx bench/store-turns.ts [--posts N]\n`);
    process.exit(2);
  },
);

const t = await startTestServer({ DATABASE_URL: 'sqlite::memory:' }, {
  tracingEnv: { OTEL_SDK_DISABLED: 'true' },
  rateLimitPerSecond: 1_000_000,
});
const alice = await t.user('alice');
const g = await t.guild(alice.id, []);
const agent = new http.Agent({ keepAlive: true });
const url = new URL(t.url);

function post(n: number): Promise<void> {
  const body = JSON.stringify({ content: `m${n}` });
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        agent,
        host: url.hostname,
        port: Number(url.port),
        method: 'POST',
        path: `/api/v10/channels/${g.channelId}/messages`,
        headers: { authorization: `Bot ${alice.token}`, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
      },
      (res) => {
        res.resume();
        res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`answered ${res.statusCode}`))));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

let turns = 0;
let counting = true;
const tick = () => {
  turns++;
  if (counting) setImmediate(tick);
};
setImmediate(tick);
try {
  for (let i = 0; i < 20; i++) await post(i);
  const counts = new Map<number, number>();
  for (let i = 0; i < flags.posts; i++) {
    const before = turns;
    await post(i);
    const n = turns - before;
    counts.set(n, (counts.get(n) ?? 0) + 1);
  }
  const rows = [...counts].sort((a, b) => a[0] - b[0]).map(([n, c]) => `${n} turns: ${c}`);
  process.stdout.write(`sqlite::memory:, ${flags.posts} posts one at a time, loop turns from request to answer (client's included): ${rows.join(', ')}\n`);
} finally {
  counting = false;
  agent.destroy();
  await t.close();
}
