// npm run bench:store-commit-instructions: what a group commit of new
// messages costs the server's process, in instructions (callgrind), on each
// engine: the store's applyWrites as the write batcher calls it, with
// batches of B posts spread over the guilds. For PostgreSQL that is the pg
// driver's side (building the arrays, the Bind, reading the answer, the
// pool) and the store's; the backend's own work is in another process
// (bench/store-pg-backend-instructions.ts counts it).
//
// It runs itself under `valgrind --tool=callgrind --instr-atstart=no`, warms
// up (`--warmup` commits, so the JIT has compiled the path), then counts
// `--commits` commits (callgrind_control -i on/off around them; the main
// thread only, --separate-threads). `--root DIR` takes the store from another
// checkout (`git archive COMMIT | tar -x -C DIR`, node_modules a symlink): the
// same count before and after a change.
//
//   npm run bench:store-commit-instructions -- [--engines memory,postgres] [--sizes 1,3,130] [--commits 100] [--warmup 300] [--root DIR]
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { z } from 'zod';
import type { openSqlStore as OpenSqlStore } from '../server/index.js';
import { parseFlags } from './flags.js';
import { commitWorld } from './store-commit-world.js';
import { PG_ADMIN_URL, adminQuery } from './store-server.js';


const flags = parseFlags(
  process.argv.slice(2),
  {
    engines: { type: 'string', default: 'memory,postgres' },
    sizes: { type: 'string', default: '1,3,130' },
    commits: { type: 'string', default: '100' },
    warmup: { type: 'string', default: '300' },
    root: { type: 'string', default: '.' },
    // Internal: this process is the one under callgrind, for one engine and size.
    child: { type: 'string', default: '' },
  },
  z.object({
    engines: z.string().transform((s) => s.split(',').map((x) => z.enum(['memory', 'postgres']).parse(x))),
    sizes: z.string().transform((s) => s.split(',').map((x) => z.coerce.number().int().min(1).max(5000).parse(x))),
    commits: z.coerce.number().int().min(1).max(100_000),
    warmup: z.coerce.number().int().min(0).max(100_000),
    root: z.string().transform((s) => resolve(s)),
    child: z.string(),
  }),
  (message) => {
    process.stderr.write(`bench:store-commit-instructions: ${message}\n`);
    process.exit(2);
  },
);

/** Under callgrind: the world, the warm-up, then the counted commits. */
async function child(engine: 'memory' | 'postgres', size: number, url: string): Promise<void> {
  const { openSqlStore } = (await import(pathToFileURL(join(flags.root, 'server/index.ts')).href)) as { openSqlStore: typeof OpenSqlStore };
  const store = await openSqlStore(engine === 'memory' ? { kind: 'sqlite', path: ':memory:' } : { kind: 'postgres', url });
  const commitOf = await commitWorld(store);
  const commit = () => commitOf(size);
  for (let i = 0; i < flags.warmup; i++) await commit();
  execFileSync('callgrind_control', ['-i', 'on', String(process.pid)], { stdio: 'ignore' });
  for (let i = 0; i < flags.commits; i++) await commit();
  execFileSync('callgrind_control', ['-i', 'off', String(process.pid)], { stdio: 'ignore' });
  await store.close();
}

/** Instructions of the main thread in the counted window of one child run. */
function run(engine: 'memory' | 'postgres', size: number, url: string): number {
  const dir = mkdtempSync(join(tmpdir(), 'gh-commit-instr-'));
  try {
    const out = join(dir, 'callgrind.out');
    const args = ['--tool=callgrind', '--instr-atstart=no', '--separate-threads=yes', `--callgrind-out-file=${out}`, process.execPath, '--import', 'tsx', ...process.execArgv.filter((a) => a !== '--import' && a !== 'tsx'), process.argv[1]!];
    const childArgs = ['--child', `${engine},${size},${url}`, '--root', flags.root, '--commits', String(flags.commits), '--warmup', String(flags.warmup)];
    const r = spawnSync('valgrind', [...args, ...childArgs], { encoding: 'utf8', maxBuffer: 1 << 26 });
    if (r.status !== 0) throw new Error(`child failed: ${r.stderr.slice(-3000)}`);
    // --separate-threads: one file per thread, `OUT-01` the main thread.
    const main = readdirSync(dir).find((f) => f.endsWith('-01'));
    if (main === undefined) throw new Error(`no main-thread dump in ${readdirSync(dir).join(', ')}`);
    const totals = (/^totals: (\d+)/m.exec(readFileSync(join(dir, main), 'utf8')) ?? /^summary: (\d+)/m.exec(readFileSync(join(dir, main), 'utf8')));
    if (totals === null) throw new Error('no totals in the callgrind output');
    return Number(totals[1]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (flags.child !== '') {
  const [engine, size, url] = flags.child.split(',') as ['memory' | 'postgres', string, string];
  await child(engine, Number(size), url);
} else {
  const lines = [
    `bench:store-commit-instructions, ${new Date().toISOString()}, store of ${flags.root}, ${flags.commits} commits counted after ${flags.warmup}, main thread`,
    '',
    '| engine | posts per commit | instructions/commit | instructions/post |',
    '|---|---:|---:|---:|',
  ];
  for (const size of flags.sizes) {
    for (const engine of flags.engines) {
      const name = `guildhall_instr_${randomBytes(4).toString('hex')}`;
      const url = new URL(PG_ADMIN_URL);
      url.pathname = `/${name}`;
      if (engine === 'postgres') await adminQuery(`CREATE DATABASE ${name}`);
      try {
        const perCommit = run(engine, size, url.toString()) / flags.commits;
        lines.push(`| ${engine} | ${size} | ${Math.round(perCommit).toLocaleString('en')} | ${Math.round(perCommit / size).toLocaleString('en')} |`);
        process.stderr.write(`${lines[lines.length - 1]}\n`);
      } finally {
        if (engine === 'postgres') await adminQuery(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      }
    }
  }
  process.stdout.write(`${lines.join('\n')}\n`);
}
