// CPU per delivery of two checkouts' servers side by side (tracing off), for
// a before/after of a change in one sitting: each checkout's server/main.ts
// runs as `npm run bench`'s `off` mode, with its own client process (client-sim's
// broadcast driver through bench/client-driver.ts), and their bursts alternate,
// the order swapped every repetition. CPU per delivery is the server's
// per-thread schedstat time over the burst / deliveries; `b_over_a` is the
// median of the per-pair ratios. `--paced-rate N` makes every measured run a
// paced one (N deliveries/s offered, as `npm run bench`'s paced runs: one
// dispatch per session per turn, nothing coalesced) instead of a burst.
// `--cpu-prof-dir DIR` writes each server's V8 CPU profile there when it stops.
//
//   npm run bench:delivery-ab -- --a /path/to/before --b . [--sessions 1000] [--reps 8] [--messages 60] [--connect-rate 250]
//     [--paced-rate 20000] [--cpu-prof-dir DIR]
//   (a checkout needs its node_modules: a symlink to this one's will do)
import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { z } from 'zod';
import { ClientDriver, checkoutSchema, guildhallServerEnv, type ServerUnderTest, freePort, stop, waitHealthy } from './children.js';
import { parseFlags } from './flags.js';
import { pacedPlan } from './paced.js';
import { schedMicros } from './proc.js';

const o = parseFlags(
  process.argv.slice(2),
  {
    a: { type: 'string' },
    b: { type: 'string', default: '.' },
    sessions: { type: 'string', default: '1000' },
    reps: { type: 'string', default: '8' },
    messages: { type: 'string', default: '60' },
    'connect-rate': { type: 'string', default: '250' },
    'paced-rate': { type: 'string', default: '0' },
    'cpu-prof-dir': { type: 'string' },
  },
  z.object({
    a: checkoutSchema,
    b: checkoutSchema,
    sessions: z.coerce.number().int().min(1).max(20_000),
    reps: z.coerce.number().int().min(1).max(100),
    messages: z.coerce.number().int().min(1).max(10_000),
    connectRate: z.coerce.number().positive().max(100_000),
    pacedRate: z.coerce.number().min(0).max(10_000_000),
    cpuProfDir: z
      .string()
      .min(1)
      .transform((p) => resolve(p))
      .optional(),
  }),
  (message) => {
    process.stderr.write(`bench:delivery-ab: ${message}\nusage: npm run bench:delivery-ab -- --a DIR [--b DIR] [--sessions N] [--reps N] [--messages N] [--connect-rate N] [--paced-rate N] [--cpu-prof-dir DIR]\n`);
    process.exit(2);
  },
  (v) => ({ ...v, connectRate: v['connect-rate'], pacedRate: v['paced-rate'], cpuProfDir: v['cpu-prof-dir'] }),
);

async function startServer(root: string): Promise<ServerUnderTest> {
  const port = await freePort();
  const env = guildhallServerEnv(port, { OTEL_SDK_DISABLED: 'true' });
  // The profile is written when the server exits on its own (stop() sends SIGTERM, which it handles).
  const profile = o.cpuProfDir === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${o.cpuProfDir}`];
  const child = spawn(process.execPath, [...profile, '--import', 'tsx', 'server/main.ts'], { cwd: root, env, stdio: ['ignore', 'ignore', 'inherit'] });
  const url = `http://127.0.0.1:${port}`;
  await waitHealthy(url, child, 60_000);
  return { mode: 'off', url, pid: child.pid!, child };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((x, y) => x - y);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

async function main(): Promise<void> {
  const roots = [o.a, o.b];
  const rigs = await Promise.all(
    roots.map(async (root) => {
      const server = await startServer(root);
      const driver = ClientDriver.start();
      await driver.setup(server, o.sessions, Math.min(o.sessions, 100), o.connectRate);
      return { root, server, driver };
    }),
  );
  try {
    for (const r of rigs) process.stderr.write(`${r.root}: ${await r.driver.connect()} of ${o.sessions} sessions connected\n`);
    // Paced: the offered rate in messages/s for this guild size, and a deadline that covers the run.
    const plan = o.pacedRate > 0 ? pacedPlan(o.pacedRate, o.sessions, o.messages) : { messagesPerS: 5_000, timeoutMs: 60_000 };
    for (const r of rigs) await r.driver.burst(o.messages, 5_000); // warm-up
    const us: number[][] = [[], []];
    const p99: number[][] = [[], []];
    let lost = 0;
    for (let rep = 0; rep < o.reps; rep++) {
      for (const i of rep % 2 === 0 ? [0, 1] : [1, 0]) {
        const r = rigs[i]!;
        const before = schedMicros(r.server.pid);
        const burst = await r.driver.burst(o.messages, plan.messagesPerS, false, plan.timeoutMs);
        us[i]!.push((schedMicros(r.server.pid) - before) / burst.delivered);
        p99[i]!.push(burst.fanout.p99);
        lost += burst.lost;
      }
      process.stderr.write(`rep ${rep + 1}: a ${us[0]!.at(-1)!.toFixed(2)} µs, b ${us[1]!.at(-1)!.toFixed(2)} µs per delivery\n`);
    }
    const ratios = us[0]!.map((a, k) => us[1]![k]! / a);
    const result = {
      sessions: o.sessions,
      reps: o.reps,
      messages: o.messages,
      kind: o.pacedRate > 0 ? `paced at ${o.pacedRate} deliveries/s` : 'burst',
      a: { root: o.a, us_per_delivery: median(us[0]!), fanout_p99_ms: median(p99[0]!) },
      b: { root: o.b, us_per_delivery: median(us[1]!), fanout_p99_ms: median(p99[1]!) },
      b_over_a: { median: median(ratios), min: Math.min(...ratios), max: Math.max(...ratios) },
      lost,
    };
    process.stdout.write(`${JSON.stringify(result)}\n`);
    if (lost > 0) process.exitCode = 1;
  } finally {
    for (const r of rigs) {
      await r.driver.close();
      await stop(r.server.child);
    }
  }
}

main().then(
  () => process.exit(),
  (err: unknown) => {
    process.stderr.write(`${String((err as Error)?.stack ?? err)}\n`);
    process.exit(1);
  },
);
