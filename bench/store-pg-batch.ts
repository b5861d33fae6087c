// npm run bench:store-pg-batch: what one group commit of new messages costs
// on PostgreSQL, by the shape of its statements, side by side on one
// connection: round trips, the pg client's CPU and the backend's CPU (both
// from /proc, so the figures survive a busy machine better than wall time),
// and the wall time per commit. The shapes:
// - txn-values: BEGIN; INSERT ... SELECT FROM (VALUES ...) with 5 parameters
//   per row; COMMIT (the SQL store before this change);
// - txn-unnest: BEGIN; the same insert from unnest() of five arrays; COMMIT;
// - unnest: the unnest insert alone, in autocommit (the SQL store now);
// - unnest-named: the same as a named prepared statement (parsed once per
//   connection);
// - unchecked-named: the rows as they are, no join, no existence check, no
//   RETURNING, the foreign keys checking them (the SQL store since schema 3).
// Rounds alternate the shapes; medians over rounds.
//
//   npm run bench:store-pg-batch -- [--sizes 1,10,100] [--commits 200] [--rounds 5]
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { z } from 'zod';
import { openSqlStore } from '../server/index.js';
import { UNNEST_INSERT, UNNEST_INSERT_UNCHECKED } from '../server/store/guild-writes.js';
import { parseFlags } from './flags.js';
import { cpuMicros } from './proc.js';
import { rounded } from './summary.js';

const ADMIN_URL = process.env.GUILDHALL_BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const flags = parseFlags(
  process.argv.slice(2),
  { sizes: { type: 'string', default: '1,10,100' }, commits: { type: 'string', default: '200' }, rounds: { type: 'string', default: '5' } },
  z.object({
    sizes: z.string().transform((s) => s.split(',').map((x) => z.coerce.number().int().min(1).max(5000).parse(x))),
    commits: z.coerce.number().int().min(1).max(100_000),
    rounds: z.coerce.number().int().min(1).max(50),
  }),
  (message) => {
    process.stderr.write(`bench:store-pg-batch: ${message}\n`);
    process.exit(2);
  },
);

const SHAPES = ['txn-values', 'txn-unnest', 'unnest', 'unnest-named', 'unchecked-named'] as const;
type Shape = (typeof SHAPES)[number];

const UNNEST = UNNEST_INSERT;

function valuesInsert(n: number): string {
  const rows: string[] = [];
  for (let i = 0; i < n; i++) {
    const p = i * 5;
    rows.push(`(cast($${p + 1} as bigint), cast($${p + 2} as bigint), cast($${p + 3} as bigint), cast($${p + 4} as bigint), cast($${p + 5} as text))`);
  }
  return `with v (id, channel_id, guild_id, author_id, content) as (values ${rows.join(', ')})
  insert into messages (id, channel_id, guild_id, author_id, content)
  select v.id, c.id, c.guild_id, v.author_id, v.content
  from v join channels c on c.id = v.channel_id and c.guild_id = v.guild_id
  where exists (select 1 from users u where u.id = v.author_id)
  returning id`;
}

async function main(): Promise<void> {
  const name = `guildhall_bench_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: ADMIN_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  const url = new URL(ADMIN_URL);
  url.pathname = `/${name}`;
  try {
    // The schema and one guild, as the server makes them.
    const store = await openSqlStore({ kind: 'postgres', url: url.toString() });
    const user = await store.createUser({ username: 'bench' });
    const guild = await store.createGuild({ name: 'bench', owner_id: user.id });
    const channel = (await store.listChannels(guild.id))[0]!;
    let nextId = BigInt(store.ids.next());
    await store.close();

    const client = new pg.Client({ connectionString: url.toString() });
    await client.connect();
    const backend = Number((await client.query<{ pid: number }>('select pg_backend_pid() as pid')).rows[0]!.pid);
    const commit = async (shape: Shape, n: number) => {
      const ids: string[] = [];
      for (let i = 0; i < n; i++) ids.push(String(nextId++));
      const content = ids.map((id) => `message ${id}`);
      const same = (v: string) => ids.map(() => v);
      let trips = 0;
      const q = async (text: string | pg.QueryConfig, values?: unknown[]) => {
        trips++;
        return client.query(text as string, values);
      };
      if (shape === 'txn-values') {
        const values: string[] = [];
        for (let i = 0; i < n; i++) values.push(ids[i]!, channel.id, guild.id, user.id, content[i]!);
        await q('BEGIN');
        await q(valuesInsert(n), values);
        await q('COMMIT');
      } else {
        // The sixth array: nonces (enforce_nonce posts only), none here.
        const values = [ids, same(channel.id), same(guild.id), same(user.id), content, ids.map(() => null)];
        if (shape === 'txn-unnest') await q('BEGIN');
        if (shape === 'unchecked-named') await q({ name: 'bench_unchecked', text: UNNEST_INSERT_UNCHECKED, values });
        else await q(shape === 'unnest-named' ? { name: 'bench_unnest', text: UNNEST, values } : UNNEST, shape === 'unnest-named' ? undefined : values);
        if (shape === 'txn-unnest') await q('COMMIT');
      }
      return trips;
    };

    type Row = { shape: Shape; size: number; wallUs: number; clientUs: number; backendUs: number; trips: number };
    const rows: Row[] = [];
    for (let round = 0; round < flags.rounds; round++) {
      for (const size of flags.sizes) {
        const order = SHAPES.map((_, i) => SHAPES[(i + round) % SHAPES.length]!);
        for (const shape of order) {
          await commit(shape, size); // warm: the named statement's parse, the plan cache
          const c0 = process.cpuUsage();
          const b0 = cpuMicros(backend);
          const t0 = performance.now();
          let trips = 0;
          for (let i = 0; i < flags.commits; i++) trips += await commit(shape, size);
          const wall = (performance.now() - t0) * 1000;
          const c = process.cpuUsage(c0);
          rows.push({ shape, size, wallUs: wall / flags.commits, clientUs: (c.user + c.system) / flags.commits, backendUs: (cpuMicros(backend) - b0) / flags.commits, trips: trips / flags.commits });
        }
      }
    }
    await client.end();

    const fmt = (xs: number[]) => {
      const s = rounded(xs, 0);
      return `${s.median} (${s.min}–${s.max})`;
    };
    const lines = [
      `bench:store-pg-batch, ${new Date().toISOString()}, ${flags.commits} commits per shape and size, ${flags.rounds} rounds, Node ${process.versions.node}`,
      '',
      '| rows per commit | shape | round trips | wall µs/commit | pg client CPU µs/commit | backend CPU µs/commit |',
      '|---:|---|---:|---:|---:|---:|',
    ];
    for (const size of flags.sizes) {
      for (const shape of SHAPES) {
        const rs = rows.filter((r) => r.shape === shape && r.size === size);
        lines.push(`| ${size} | ${shape} | ${rs[0]!.trips} | ${fmt(rs.map((r) => r.wallUs))} | ${fmt(rs.map((r) => r.clientUs))} | ${fmt(rs.map((r) => r.backendUs))} |`);
      }
    }
    process.stdout.write(`${lines.join('\n')}\n`);
  } finally {
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.end();
  }
}

await main();
