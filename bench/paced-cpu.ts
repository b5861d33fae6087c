// Server CPU of one guild's sessions, idle and paced (issue 15): each mode's
// server as `npm run bench` runs it, N sessions connected; first idle (no
// posts) over --seconds, then (with --messages) one paced run at --paced-rate
// deliveries/s, the server's and the client's CPU read from /proc over each
// window. Tells per-time cost (timers, sweeps, heartbeats: a paced run is
// charged its window's idle CPU too) from per-broadcast cost. With
// --cpu-prof-dir each server writes a V8 profile, and each window is printed
// on CLOCK_MONOTONIC for bench/profile-window.ts.
//   npm run bench:paced-cpu -- [--sessions 1000] [--modes off,socketio,floor-seq] [--seconds 10] [--users 100]
//                              [--connect-rate 250] [--heartbeat-ms N] [--messages 0] [--paced-rate 20000]
//                              [--server-root DIR] [--cpu-prof-dir DIR]
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { ALL_MODES, ClientDriver, type Mode, startServer, stop } from './children.js';
import { parseFlags } from './flags.js';
import { pacedPlan } from './paced.js';
import { CLK_TCK, cpuMicros, schedMicros } from './proc.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

const optionsSchema = z.object({
  sessions: z.coerce.number().int().min(0).max(20_000),
  modes: z
    .string()
    .transform((s) => s.split(','))
    .pipe(z.array(z.enum(ALL_MODES as [Mode, ...Mode[]])).min(1)),
  seconds: z.coerce.number().min(1).max(600),
  users: z.coerce.number().int().min(1).max(20_000),
  connectRate: z.coerce.number().positive().max(100_000),
  heartbeatMs: z.coerce.number().int().min(0),
  serverRoot: z.string().refine((p) => existsSync(join(p, 'server/main.ts')), '--server-root must hold server/main.ts'),
  cpuProfDir: z.string().min(1).optional(),
  messages: z.coerce.number().int().min(0).max(100_000),
  strace: z.string().min(1).optional(),
  pacedRate: z.coerce.number().positive().max(10_000_000),
});

function fail(message: string): never {
  process.stderr.write(`bench:paced-cpu: ${message}\n`);
  process.exit(2);
}

const o = parseFlags(
  process.argv.slice(2),
  {
    sessions: { type: 'string', default: '1000' },
    modes: { type: 'string', default: 'off,socketio,floor-seq' },
    seconds: { type: 'string', default: '10' },
    users: { type: 'string', default: '100' },
    'connect-rate': { type: 'string', default: '250' },
    'heartbeat-ms': { type: 'string', default: '0' },
    'server-root': { type: 'string', default: ROOT },
    'cpu-prof-dir': { type: 'string' },
    messages: { type: 'string', default: '0' },
    strace: { type: 'string' },
    'paced-rate': { type: 'string', default: '20000' },
  },
  optionsSchema,
  fail,
  (v) => ({ ...v, connectRate: v['connect-rate'], heartbeatMs: v['heartbeat-ms'], serverRoot: resolve(String(v['server-root'])), cpuProfDir: v['cpu-prof-dir'], pacedRate: v['paced-rate'] }),
);

/** System calls that read and write, and voluntary context switches (sleeps in epoll_wait), summed over the process's threads. */
function counts(pid: number): { syscr: number; syscw: number; sleeps: number } {
  const io = readFileSync(`/proc/${pid}/io`, 'utf8');
  const field = (text: string, name: string) => Number(new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(text)?.[1] ?? NaN);
  let sleeps = 0;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      sleeps += field(readFileSync(`/proc/${pid}/task/${tid}/status`, 'utf8'), 'voluntary_ctxt_switches');
    } catch {
      // the thread ended
    }
  }
  return { syscr: field(io, 'syscr'), syscw: field(io, 'syscw'), sleeps };
}

/** The main thread's time on CPU, µs (schedstat, ns resolution); the rest of schedMicros is V8's and libuv's helper threads. */
function mainThreadMicros(pid: number): number {
  return Number(readFileSync(`/proc/${pid}/task/${pid}/schedstat`, 'utf8').split(' ')[0]) / 1000;
}

/** User and system time of the process, µs (clock ticks). */
function userSystemMicros(pid: number): { user: number; system: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { user: (Number(fields[11]) * 1e6) / CLK_TCK, system: (Number(fields[12]) * 1e6) / CLK_TCK };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function idle(mode: Mode): Promise<void> {
  const env: Record<string, string> = o.heartbeatMs > 0 ? { GUILDHALL_HEARTBEAT_INTERVAL_MS: String(o.heartbeatMs) } : {};
  const server = await startServer(mode, 0, { root: o.serverRoot, env, cpuProfileDir: o.cpuProfDir === undefined ? undefined : resolve(o.cpuProfDir, mode) });
  const driver = ClientDriver.start();
  try {
    await driver.setup(server, o.sessions, Math.min(o.users, Math.max(1, o.sessions)), o.connectRate);
    const connected = o.sessions > 0 ? await driver.connect() : 0;
    await sleep(3_000);
    const c0 = cpuMicros(server.pid);
    const s0 = schedMicros(server.pid);
    const k0 = cpuMicros(driver.child.pid!);
    const n0 = counts(server.pid);
    const fromUs = Number(process.hrtime.bigint() / 1000n);
    await sleep(o.seconds * 1000);
    const toUs = Number(process.hrtime.bigint() / 1000n);
    const cpu = cpuMicros(server.pid) - c0;
    const sched = schedMicros(server.pid) - s0;
    const client = cpuMicros(driver.child.pid!) - k0;
    const n1 = counts(server.pid);
    const rate = (k: 'syscr' | 'syscw' | 'sleeps') => ((n1[k] - n0[k]) / o.seconds).toFixed(1);
    const perS = (us: number) => (us / 1000 / o.seconds).toFixed(2);
    process.stdout.write(
      `${mode}\tsessions ${connected}\tidle: server ${perS(cpu)} ms CPU/s (sched ${perS(sched)})\tclient ${perS(client)} ms CPU/s\tper s: ${rate('syscr')} reads, ${rate('syscw')} writes, ${rate('sleeps')} sleeps\twindow --from ${fromUs} --to ${toUs}\n`,
    );
    if (o.messages > 0 && connected > 0) {
      const plan = pacedPlan(o.pacedRate, connected, o.messages);
      await driver.burst(Math.min(o.messages, 20), plan.messagesPerS, false, plan.timeoutMs); // warm-up
      await sleep(1_000);
      // --strace DIR: the system calls of the paced run, counted (strace -c), one file per mode.
      const tracer = o.strace === undefined ? undefined : spawn('strace', ['-c', '-f', '-o', join(resolve(o.strace), `${mode}.strace`), '-p', String(server.pid)], { stdio: 'ignore' });
      if (tracer) await sleep(1_000);
      const p0 = schedMicros(server.pid);
      const q0 = cpuMicros(server.pid);
      const m0 = counts(server.pid);
      const main0 = mainThreadMicros(server.pid);
      const us0 = userSystemMicros(server.pid);
      const t0 = Number(process.hrtime.bigint() / 1000n);
      const r = await driver.burst(o.messages, plan.messagesPerS, false, plan.timeoutMs);
      const t1 = Number(process.hrtime.bigint() / 1000n);
      if (tracer) {
        const done = new Promise((r) => tracer.once('exit', r));
        tracer.kill('SIGINT');
        await done;
      }
      const sched = schedMicros(server.pid) - p0;
      const cpu = cpuMicros(server.pid) - q0;
      const m1 = counts(server.pid);
      const main = mainThreadMicros(server.pid) - main0;
      const us1 = userSystemMicros(server.pid);
      const perMessage = (k: 'syscr' | 'syscw' | 'sleeps') => ((m1[k] - m0[k]) / o.messages).toFixed(1);
      const d = Math.max(1, r.delivered);
      process.stdout.write(
        `${mode}\tpaced ${o.messages} messages at ${plan.messagesPerS.toFixed(1)}/s: ${(cpu / d).toFixed(2)} µs/delivery (sched ${(sched / d).toFixed(2)}, main thread ${(main / d).toFixed(2)}; user ${((us1.user - us0.user) / d).toFixed(2)}, system ${((us1.system - us0.system) / d).toFixed(2)}), ` +
          `${(sched / 1000 / o.messages).toFixed(2)} ms/message, ${((sched / 1000) / ((t1 - t0) / 1e6)).toFixed(1)} ms CPU/s; lost ${r.lost}, p99 ${r.fanout.p99.toFixed(0)} ms\tper message: ${perMessage('syscr')} reads, ${perMessage('syscw')} writes, ${perMessage('sleeps')} sleeps\twindow --from ${t0} --to ${t1}\n`,
      );
    }
  } finally {
    await driver.close();
    await stop(server.child);
  }
}

if (o.strace !== undefined) mkdirSync(o.strace, { recursive: true });
for (const mode of o.modes) await idle(mode);
