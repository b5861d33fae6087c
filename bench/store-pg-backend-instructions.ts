// npm run bench:store-pg-backend-instructions: what a group commit of new
// messages costs the PostgreSQL backend, counted in instructions (callgrind),
// by the shape of the insert. On a shared machine a backend's CPU time moves
// with everything else running; its instruction count does not.
//
// How: a private cluster (initdb in a temporary folder, run as the `postgres`
// user) gets Guildhall's schema through the store's own migrations and the
// bench's world (200 guilds of 5 members, one channel each). Then for each
// shape, a copy of that cluster runs `postgres --single` under
// `valgrind --tool=callgrind` on a script that prepares the insert and
// executes it N times, each in autocommit (one commit each, fsync on), with
// batches of B rows spread over the guilds as bench:store posts them. Two
// runs per shape (N and 3N commits); the difference over 2N is the backend's
// instructions per commit, less everything a run does once (start, catalog
// loads, shutdown). What it does not count: the kernel's side of the commit
// (write and fdatasync of the WAL) and the protocol (single-user mode reads
// each EXECUTE as a simple query with literal arrays, where the server sends
// Bind with text arrays: the same array parsing, a statement parse more).
//
// `--wal` adds the WAL each commit writes, in bytes: in single-user mode the
// backend is the only writer, so the insert position (pg_current_wal_insert_lsn)
// before and after N commits, after as many of warm-up, says it exactly (the
// rows, the index entries, the row locks the key checks take on the rows they
// find, the commit record, full-page images included).
//
//   npm run bench:store-pg-backend-instructions -- [--sizes 1,3,130] [--commits 20] [--shapes checked,plain] [--schema-sql SQL] [--profile DIR] [--wal]
//
// Needs PostgreSQL 15's binaries (/usr/lib/postgresql/15/bin, or GUILDHALL_PG_BIN), valgrind, root (to run as postgres).
import { execFileSync, spawnSync } from 'node:child_process';
import { chownSync, cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { z } from 'zod';
import { openSqlStore } from '../server/index.js';
import { parseFlags } from './flags.js';

const PG_BIN = process.env.GUILDHALL_PG_BIN ?? '/usr/lib/postgresql/15/bin';
/** The template cluster's port while the world is made (GUILDHALL_PG_PORT: two counts at once need two). */
const PORT = Number(process.env.GUILDHALL_PG_PORT ?? 5498);

/** The insert shapes: `$1..$6` are ids, channel ids, guild ids, author ids, contents, nonces. */
export const SHAPES: Record<string, string> = {
  // The checked insert (before this pass): a row goes in only when its channel (of that guild) and its author exist.
  checked: `insert into messages (id, channel_id, guild_id, author_id, content, nonce)
  select v.id, c.id, c.guild_id, v.author_id, v.content, v.nonce
  from unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::bigint[], $5::text[], $6::text[]) as v (id, channel_id, guild_id, author_id, content, nonce)
  join channels c on c.id = v.channel_id and c.guild_id = v.guild_id
  where exists (select 1 from users u where u.id = v.author_id)
  returning id`,
  // The rows as they are; the foreign keys alone check them (a violation fails the statement).
  plain: `insert into messages (id, channel_id, guild_id, author_id, content, nonce)
  select * from unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::bigint[], $5::text[], $6::text[])`,
  // The same rows from six unnest() in the select list (a ProjectSet node, the arrays in lockstep)
  // instead of unnest() of six arrays in FROM (a FunctionScan that fills a tuplestore per array).
  srf: `insert into messages (id, channel_id, guild_id, author_id, content, nonce)
  select unnest($1::bigint[]), unnest($2::bigint[]), unnest($3::bigint[]), unnest($4::bigint[]), unnest($5::text[]), unnest($6::text[])`,
};

const flags = parseFlags(
  process.argv.slice(2),
  {
    sizes: { type: 'string', default: '1,3,130' },
    commits: { type: 'string', default: '20' },
    shapes: { type: 'string', default: Object.keys(SHAPES).join(',') },
    'schema-sql': { type: 'string', default: '' },
    profile: { type: 'string', default: '' },
    wal: { type: 'boolean', default: false },
  },
  z.object({
    sizes: z.string().transform((s) => s.split(',').map((x) => z.coerce.number().int().min(1).max(5000).parse(x))),
    commits: z.coerce.number().int().min(1).max(10_000),
    shapes: z.string().transform((s) => s.split(',').map((x) => z.enum(Object.keys(SHAPES) as [string, ...string[]]).parse(x))),
    /** SQL run on the world after the migrations (a schema variant to count), e.g. a changed constraint. */
    'schema-sql': z.string(),
    /** A folder: each longer run's callgrind output is kept there (callgrind_annotate reads it), named by shape and size. */
    profile: z.string(),
    wal: z.boolean(),
  }),
  (message) => {
    process.stderr.write(`bench:store-pg-backend-instructions: ${message}\n`);
    process.exit(2);
  },
);

const asPostgres = (cmd: string, args: string[], input?: string) =>
  spawnSync('runuser', ['-u', 'postgres', '--', cmd, ...args], { input, encoding: 'utf8', maxBuffer: 1 << 28 });

interface World {
  guilds: { guild: string; channel: string; users: string[] }[];
  nextId: bigint;
}

/** The cluster with the schema and the world, stopped; its folder. */
async function makeCluster(dir: string): Promise<{ data: string; world: World }> {
  const data = join(dir, 'template');
  const init = asPostgres(join(PG_BIN, 'initdb'), ['-D', data, '-A', 'trust', '-U', 'postgres']);
  if (init.status !== 0) throw new Error(`initdb: ${init.stderr}`);
  const opts = `-p ${PORT} -k ${dir} -c listen_addresses=127.0.0.1 -c autovacuum=off -c shared_buffers=128MB`;
  const start = asPostgres(join(PG_BIN, 'pg_ctl'), ['-D', data, '-o', opts, '-l', join(dir, 'log'), '-w', 'start']);
  if (start.status !== 0) throw new Error(`pg_ctl start: ${start.stderr}`);
  try {
    execFileSync(join(PG_BIN, 'createdb'), ['-h', '127.0.0.1', '-p', String(PORT), '-U', 'postgres', 'bench']);
    const store = await openSqlStore({ kind: 'postgres', url: `postgres://postgres@127.0.0.1:${PORT}/bench` });
    const guilds: World['guilds'] = [];
    for (let g = 0; g < 200; g++) {
      const users: string[] = [];
      for (let u = 0; u < 5; u++) users.push((await store.createUser({ username: `g${g}u${u}` })).id);
      const guild = await store.createGuild({ name: `g${g}`, owner_id: users[0]! });
      for (const u of users.slice(1)) await store.addMember(guild.id, u);
      guilds.push({ guild: guild.id, channel: (await store.listChannels(guild.id))[0]!.id, users });
    }
    const nextId = BigInt(store.ids.next());
    await store.close();
    if (flags['schema-sql'] !== '') {
      execFileSync('psql', ['-h', '127.0.0.1', '-p', String(PORT), '-U', 'postgres', '-d', 'bench', '-v', 'ON_ERROR_STOP=1', '-c', flags['schema-sql']], { stdio: 'inherit' });
    }
    return { data, world: { guilds, nextId } };
  } finally {
    asPostgres(join(PG_BIN, 'pg_ctl'), ['-D', data, '-m', 'fast', '-w', 'stop']);
  }
}

/** One script: prepare the shape, then `commits` executions of `size` rows (ids go on from `world.nextId`). */
function script(world: World, shape: string, size: number, commits: number, walFrom?: number): string {
  const lit = (xs: readonly (string | null)[]) => `'{${xs.map((x) => (x === null ? 'NULL' : `"${x}"`)).join(',')}}'`;
  const lines = [`PREPARE s(bigint[], bigint[], bigint[], bigint[], text[], text[]) AS ${SHAPES[shape]!.replace(/\s+/g, ' ')};`];
  let k = 0;
  for (let c = 0; c < commits; c++) {
    const cols: (string | null)[][] = [[], [], [], [], [], []];
    for (let i = 0; i < size; i++, k++) {
      // Posts spread over the guilds, as 200 closed-loop posters make them; authors rotate within a guild.
      const g = world.guilds[(k * 7) % world.guilds.length]!;
      cols[0]!.push(String(world.nextId++));
      cols[1]!.push(g.channel);
      cols[2]!.push(g.guild);
      cols[3]!.push(g.users[k % g.users.length]!);
      cols[4]!.push(`g${k % 200} m${k}`);
      cols[5]!.push(null);
    }
    if (c === walFrom) lines.push('SELECT pg_current_wal_insert_lsn();');
    lines.push(`EXECUTE s(${cols.map(lit).join(', ')});`);
  }
  if (walFrom !== undefined) lines.push('SELECT pg_current_wal_insert_lsn();');
  return `${lines.join('\n')}\n`;
}

/** Instructions of one single-user run of `sql` on a copy of the template cluster. */
function count(dir: string, template: string, sql: string, keepAs?: string): number {
  const data = join(dir, 'run');
  rmSync(data, { recursive: true, force: true });
  cpSync(template, data, { recursive: true });
  execFileSync('chown', ['-R', 'postgres', data]);
  const out = join(dir, 'callgrind.out');
  rmSync(out, { force: true });
  const run = asPostgres('valgrind', ['--tool=callgrind', `--callgrind-out-file=${out}`, join(PG_BIN, 'postgres'), '--single', '-j', '-D', data, '-c', 'autovacuum=off', '-c', 'shared_buffers=128MB', 'bench'], sql);
  if (run.status !== 0) throw new Error(`postgres --single: ${run.stderr.slice(-2000)}`);
  if (/ERROR:/.test(run.stdout) || /ERROR:/.test(run.stderr)) throw new Error(`a statement failed: ${(run.stdout + run.stderr).match(/ERROR:.*/)?.[0]}`);
  const totals = /^(?:summary|totals): (\d+)/m.exec(readFileSync(out, 'utf8'));
  if (totals === null) throw new Error('no totals in the callgrind output');
  if (keepAs !== undefined) cpSync(out, keepAs);
  return Number(totals[1]);
}

/** WAL bytes per commit: the last `commits` of 2 x `commits` run in single-user mode (no valgrind), between two insert positions. */
function walPerCommit(dir: string, template: string, world: World, shape: string, size: number, commits: number): number {
  const data = join(dir, 'run');
  rmSync(data, { recursive: true, force: true });
  cpSync(template, data, { recursive: true });
  execFileSync('chown', ['-R', 'postgres', data]);
  const sql = script({ ...world }, shape, size, 2 * commits, commits);
  const run = asPostgres(join(PG_BIN, 'postgres'), ['--single', '-j', '-D', data, '-c', 'autovacuum=off', '-c', 'shared_buffers=128MB', 'bench'], sql);
  if (run.status !== 0 || /ERROR:/.test(run.stdout + run.stderr)) throw new Error(`postgres --single: ${(run.stdout + run.stderr).slice(-2000)}`);
  const lsns = [...run.stdout.matchAll(/pg_current_wal_insert_lsn = "([0-9A-F]+)\/([0-9A-F]+)"/g)].map((m) => BigInt(`0x${m[1]}`) * 2n ** 32n + BigInt(`0x${m[2]}`));
  if (lsns.length !== 2) throw new Error(`expected two WAL positions, read ${lsns.length}`);
  return Number(lsns[1]! - lsns[0]!) / commits;
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'gh-pg-instr-'));
  chownSync(dir, Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim()), Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim()));
  try {
    const { data, world } = await makeCluster(dir);
    const lines = [
      `bench:store-pg-backend-instructions, ${new Date().toISOString()}, PostgreSQL backend instructions per commit (callgrind, runs of ${flags.commits} and ${3 * flags.commits} commits)`,
      flags['schema-sql'] === '' ? 'schema: as migrated' : `schema: as migrated, then ${flags['schema-sql']}`,
      '',
      flags.wal ? '| rows per commit | shape | instructions/commit | instructions/row | WAL bytes/commit |' : '| rows per commit | shape | instructions/commit | instructions/row |',
      flags.wal ? '|---:|---|---:|---:|---:|' : '|---:|---|---:|---:|',
    ];
    for (const size of flags.sizes) {
      for (const shape of flags.shapes) {
        const few = count(dir, data, script({ ...world }, shape, size, flags.commits));
        const many = count(dir, data, script({ ...world }, shape, size, 3 * flags.commits), flags.profile === '' ? undefined : join(resolve(flags.profile), `callgrind.${shape}.${size}`));
        const perCommit = (many - few) / (2 * flags.commits);
        const wal = flags.wal ? ` ${Math.round(walPerCommit(dir, data, world, shape, size, 10 * flags.commits)).toLocaleString('en')} |` : '';
        lines.push(`| ${size} | ${shape} | ${Math.round(perCommit).toLocaleString('en')} | ${Math.round(perCommit / size).toLocaleString('en')} |${wal}`);
        process.stderr.write(`${lines[lines.length - 1]}\n`);
      }
    }
    writeFileSync(join(dir, 'table.md'), lines.join('\n'));
    process.stdout.write(`${lines.join('\n')}\n`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
