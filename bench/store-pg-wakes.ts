// npm run bench:store-pg-wakes: how often a group commit of new messages on
// PostgreSQL wakes the server and the backend, counted: context switches
// (voluntary: the process blocked and was woken; involuntary: preempted)
// from /proc/<pid>/status and /proc/<pid>/task/*/status, read and write
// system calls from /proc/<pid>/io (syscr, syscw), per commit, on both sides
// of the connection and in PostgreSQL's other processes (the WAL writer, the
// checkpointer...). With `--strace`, a second window of as many commits runs
// under `strace -c -f` on the server and on the backend: every system call by
// name, per commit (the ptrace stops make that window's switches meaningless,
// so they are counted in the first window only).
//
// The commits are the store's applyWrites as the write batcher calls it, one
// after the other (the next when the previous is acknowledged), B posts each
// spread over the guilds; `--root DIR` takes the store from another checkout,
// for the same count before and after a change. Voluntary switches and
// system calls do not depend on the machine's load; involuntary ones do.
//
//   npm run bench:store-pg-wakes -- [--size 3] [--commits 2000] [--warmup 300] [--strace] [--root DIR]
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import pg from 'pg';
import { z } from 'zod';
import type { openSqlStore as OpenSqlStore } from '../server/index.js';
import { parseFlags } from './flags.js';
import { commitWorld } from './store-commit-world.js';

const PG_ADMIN_URL = process.env.GUILDHALL_BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

const flags = parseFlags(
  process.argv.slice(2),
  {
    size: { type: 'string', default: '3' },
    commits: { type: 'string', default: '2000' },
    warmup: { type: 'string', default: '300' },
    strace: { type: 'boolean', default: false },
    root: { type: 'string', default: '.' },
  },
  z.object({
    size: z.coerce.number().int().min(1).max(5000),
    commits: z.coerce.number().int().min(1).max(1_000_000),
    warmup: z.coerce.number().int().min(0).max(1_000_000),
    strace: z.boolean(),
    root: z.string().transform((s) => resolve(s)),
  }),
  (message) => {
    process.stderr.write(`bench:store-pg-wakes: ${message}\n`);
    process.exit(2);
  },
);

interface Counts {
  voluntary: number;
  involuntary: number;
  syscr: number;
  syscw: number;
}

const zero = (): Counts => ({ voluntary: 0, involuntary: 0, syscr: 0, syscw: 0 });

function field(text: string, name: string): number {
  const m = new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(text);
  return m === null ? 0 : Number(m[1]);
}

/** One thread's switches (its own status file). */
function switches(path: string): { voluntary: number; involuntary: number } {
  const status = readFileSync(path, 'utf8');
  return { voluntary: field(status, 'voluntary_ctxt_switches'), involuntary: field(status, 'nonvoluntary_ctxt_switches') };
}

/** A process: every thread's switches summed, and its (whole-process) read and write calls. */
function processCounts(pid: number, mainThreadOnly = false): Counts {
  const out = zero();
  const tids = mainThreadOnly ? [String(pid)] : readdirSync(`/proc/${pid}/task`);
  for (const tid of tids) {
    try {
      const s = switches(`/proc/${pid}/task/${tid}/status`);
      out.voluntary += s.voluntary;
      out.involuntary += s.involuntary;
    } catch {
      // The thread ended between the listing and the read.
    }
  }
  const io = readFileSync(`/proc/${pid}/io`, 'utf8');
  out.syscr = field(io, 'syscr');
  out.syscw = field(io, 'syscw');
  return out;
}

function sum(pids: readonly number[]): Counts {
  const out = zero();
  for (const pid of pids) {
    const c = processCounts(pid);
    out.voluntary += c.voluntary;
    out.involuntary += c.involuntary;
    out.syscr += c.syscr;
    out.syscw += c.syscw;
  }
  return out;
}

const minus = (a: Counts, b: Counts): Counts => ({ voluntary: a.voluntary - b.voluntary, involuntary: a.involuntary - b.involuntary, syscr: a.syscr - b.syscr, syscw: a.syscw - b.syscw });

async function admin<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: PG_ADMIN_URL });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** `strace -c -f` attached to `pids` until stopped; resolves once every pid is attached. */
async function straceOn(pids: readonly number[], out: string): Promise<ChildProcess> {
  const child = spawn('strace', ['-c', '-f', '-o', out, ...pids.flatMap((p) => ['-p', String(p)])], { stdio: ['ignore', 'ignore', 'pipe'] });
  let attached = 0;
  await new Promise<void>((ok, fail) => {
    child.stderr!.on('data', (chunk: Buffer) => {
      attached += (chunk.toString().match(/attached/g) ?? []).length;
      if (attached >= pids.length) ok();
    });
    child.on('exit', (code) => fail(new Error(`strace exited (${code}) before attaching`)));
    setTimeout(ok, 3000);
  });
  return child;
}

async function stopStrace(child: ChildProcess): Promise<void> {
  const done = new Promise<void>((ok) => child.on('exit', () => ok()));
  child.kill('SIGINT');
  await done;
}

/** strace -c's table: calls by system call. */
function straceTable(path: string): Map<string, number> {
  const calls = new Map<string, number>();
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    const m = /^\s*[\d.]+\s+[\d.]+\s+\d+\s+(\d+)\s+(?:\d+\s+)?([a-z_0-9]+)\s*$/.exec(line);
    if (m !== null && m[2] !== 'total') calls.set(m[2]!, Number(m[1]));
  }
  return calls;
}

async function main(): Promise<void> {
  const name = `guildhall_wakes_${randomBytes(4).toString('hex')}`;
  await admin((c) => c.query(`CREATE DATABASE ${name}`));
  const url = new URL(PG_ADMIN_URL);
  url.pathname = `/${name}`;
  const dir = mkdtempSync(join(tmpdir(), 'gh-pg-wakes-'));
  try {
    const { openSqlStore } = (await import(pathToFileURL(join(flags.root, 'server/index.ts')).href)) as { openSqlStore: typeof OpenSqlStore };
    const store = await openSqlStore({ kind: 'postgres', url: url.toString() });
    const commitOf = await commitWorld(store);
    const commit = () => commitOf(flags.size);
    for (let i = 0; i < flags.warmup; i++) await commit();

    const processes = await admin((c) => c.query<{ pid: number; datname: string | null; backend_type: string }>('select pid, datname, backend_type from pg_stat_activity where pid <> pg_backend_pid()'));
    const backends = processes.rows.filter((r) => r.datname === name && r.backend_type === 'client backend').map((r) => r.pid);
    const others = processes.rows.filter((r) => r.datname === null).map((r) => r.pid);
    const before = { main: processCounts(process.pid, true), server: processCounts(process.pid), backends: sum(backends), others: sum(others) };
    for (let i = 0; i < flags.commits; i++) await commit();
    const after = { main: processCounts(process.pid, true), server: processCounts(process.pid), backends: sum(backends), others: sum(others) };

    const per = (x: number) => (x / flags.commits).toFixed(2);
    const row = (what: string, c: Counts) => `| ${what} | ${per(c.voluntary)} | ${per(c.involuntary)} | ${per(c.syscr)} | ${per(c.syscw)} |`;
    const lines = [
      `bench:store-pg-wakes, ${new Date().toISOString()}, store of ${flags.root}, ${flags.commits} commits of ${flags.size} posts after ${flags.warmup}, one after the other; load average ${readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')}`,
      `backends of the database: ${backends.length}; other PostgreSQL processes: ${processes.rows.filter((r) => r.datname === null).map((r) => r.backend_type).join(', ')}`,
      '',
      '| per commit | voluntary switches | involuntary switches (load-dependent) | read calls (syscr) | write calls (syscw) |',
      '|---|---:|---:|---:|---:|',
      row('server, main thread (syscr/syscw: the whole process)', minus(after.main, before.main)),
      row('server, all threads', minus(after.server, before.server)),
      row('PostgreSQL backend(s) of the store', minus(after.backends, before.backends)),
      row('PostgreSQL other processes', minus(after.others, before.others)),
    ];

    if (flags.strace) {
      const serverOut = join(dir, 'server.strace');
      const backendOut = join(dir, 'backend.strace');
      // The backend's strace first: the server's, with -f, would follow a strace spawned after it.
      const onBackend = await straceOn(backends, backendOut);
      const onServer = await straceOn([process.pid], serverOut);
      for (let i = 0; i < flags.commits; i++) await commit();
      await stopStrace(onServer);
      await stopStrace(onBackend);
      const server = straceTable(serverOut);
      const backend = straceTable(backendOut);
      const names = [...new Set([...server.keys(), ...backend.keys()])].sort();
      lines.push('', `system calls per commit (strace -c -f, a second window of ${flags.commits} commits; at least 0.01 a commit on either side)`, '', '| system call | server | backend |', '|---|---:|---:|');
      for (const n of names) {
        const s = (server.get(n) ?? 0) / flags.commits;
        const b = (backend.get(n) ?? 0) / flags.commits;
        if (s >= 0.01 || b >= 0.01) lines.push(`| ${n} | ${s.toFixed(2)} | ${b.toFixed(2)} |`);
      }
    }
    await store.close();
    process.stdout.write(`${lines.join('\n')}\n`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await admin((c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
  }
}

await main();
