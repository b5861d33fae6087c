// What an enabled AsyncLocalStorage costs a socket write, in one process.
//
// OpenTelemetry's context propagation needs AsyncLocalStorage, and once a
// trace has entered `context.with()` it stays enabled. On Node 20 (and 22 by
// default) it works through async hooks: every async resource a write makes
// (its WriteWrap, the stream's after-write tick) runs the storage's init hook.
// On Node 24 it keeps its stores in AsyncContextFrame and no hook runs. This
// is the one tracing cost a Guildhall server pays per delivery whether or not
// the delivery is sampled.
//
// Rounds alternate, storage enabled and disabled, in one process: N writes of
// a dispatch-sized buffer to N loopback sockets whose reading ends live in a
// child process, CPU from process.cpuUsage(). The ratio is the median of the
// per-pair ratios (the machine's speed drifts; neighbouring rounds share it).
//
//   npm run bench:async-context            (ROUNDS=N, default 400; SOCKETS=N, default 500)
import { AsyncLocalStorage } from 'node:async_hooks';
import { fork } from 'node:child_process';
import { type Socket, connect, createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { spread } from './summary.js';

const WARMUP = 40;
const env = z
  .object({
    ROUNDS: z.coerce.number().int().min(WARMUP + 2, `ROUNDS must be an integer of at least ${WARMUP + 2}`).default(400),
    SOCKETS: z.coerce.number().int().min(1, 'SOCKETS must be a positive integer').max(10_000).default(500),
  })
  .safeParse(process.env);
if (!env.success) {
  process.stderr.write(`bench:async-context: ${env.error.issues.map((i) => i.message).join('; ')}\n`);
  process.exit(2);
}
const { ROUNDS, SOCKETS } = env.data;

const turn = () => new Promise((resolve) => setImmediate(resolve));

async function sink(): Promise<void> {
  const server = createServer((s) => s.on('data', () => {}));
  server.listen(0, '127.0.0.1', () => process.send!({ port: (server.address() as { port: number }).port }));
  process.on('disconnect', () => process.exit(0));
}

async function main(): Promise<void> {
  const child = fork(fileURLToPath(import.meta.url), ['--sink'], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  try {
    const port = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('sink did not start within 30 s')), 30_000);
      child.once('message', (m) => {
        clearTimeout(timer);
        resolve((m as { port: number }).port);
      });
      child.once('exit', (code) => reject(new Error(`sink exited with ${code}`)));
    });
    const sockets = await Promise.all(
      Array.from({ length: SOCKETS }, () => new Promise<Socket>((resolve, reject) => connect(port, '127.0.0.1').once('connect', function (this: Socket) { resolve(this); }).once('error', reject))),
    );
    const bytes = Buffer.alloc(600, 0x61); // about one MESSAGE_CREATE frame
    const storage = new AsyncLocalStorage<object>();
    const on: number[] = [];
    const off: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const enabled = round % 2 === 0;
      if (enabled) storage.enterWith({});
      else storage.disable();
      await turn();
      const before = process.cpuUsage();
      for (const s of sockets) s.write(bytes);
      await turn(); // the after-write ticks run here, and are counted
      const used = process.cpuUsage(before);
      if (round >= WARMUP) (enabled ? on : off).push((used.user + used.system) / SOCKETS);
    }
    for (const s of sockets) s.destroy();
    const result = {
      node: process.version,
      rounds: ROUNDS,
      sockets: SOCKETS,
      us_per_write: { storage_enabled: +spread(on).median.toFixed(3), storage_disabled: +spread(off).median.toFixed(3) },
      enabled_over_disabled: +spread(on.map((x, i) => x / off[i]!)).median.toFixed(3),
    };
    console.log(JSON.stringify(result));
  } finally {
    child.kill();
  }
}

if (process.argv.includes('--sink')) await sink();
else await main();
