// The server benchmark: what a broadcast costs the server process, Guildhall
// (tracing off and on) beside Socket.IO and two floors. For each guild size,
// every mode's server runs as a child process, each with its own client
// process (client-sim's broadcast driver; socket.io-client for Socket.IO;
// plain sockets for the floors):
//   off        tracing disabled (OTEL_SDK_DISABLED=true)
//   sampled    every root sampled, OTLP/gRPC export to a local sink process, fanout sampling K=10
//   spans      (only with --modes) as sampled, without the export: tells span work from export work
//   notail     (with --tail-ab or --modes) as sampled, tail capture off (GUILDHALL_SLOW_DELIVERY_MS=0):
//              sampled/notail is what tail capture costs deliveries that are not slow
//   naive      the same with K=10^9: every delivery traced and carrying context
//   socketio   Socket.IO 4, websocket only, one room per guild, the same MESSAGE_CREATE emitted once
//   floor      a minimal ws server: serialise once, write the bytes to every socket
//   floor-seq  the floor plus a seq and a resume ring per socket, the seq spliced into each frame
// Each mode connects its sessions once (a connect storm: CPU per session; then
// memory per idle session after a warm-up: RSS, heap and external after a GC), takes a
// warm-up burst, then the repetitions run interleaved with the order rotated,
// each a burst (all at once) and a paced run (a fixed offered rate of
// deliveries), reading /proc/<pid>/stat before and after every run.
//
//   npm run bench                 (full)
//   npm run bench -- --quick      (a few minutes on two cores)
//   flags: --sizes 1000,5000 --modes off,sampled,naive,socketio,floor,floor-seq --reps 3 --messages N (or --deliveries N) --users N
//          --connect-rate N --paced-rate N (deliveries/s; 0: burst only) --pin --out bench/results
//   (--modes may add `spans`: sampled without the export, to tell the two costs apart)
//   --tail-ab adds `notail` to the modes: tail capture on against off, in one run
//   --tail-on-ms N sets `sampled`'s threshold (default 100; 60000: nothing is slow, sampled/notail is the check alone)
//   --pin runs every server on CPU 0 and every client process on CPU 1 (taskset)
//   Guildhall runs compiled, as `npm start` runs it; --from-source runs server/main.ts through tsx instead
//   npm run bench -- --cluster [...]: one guild over 1, 2 and 3 nodes instead (bench/cluster.bench.ts)
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { ALL_MODES, ClientDriver, MODES, type Mode, type ServerUnderTest, startServer, startSink, stop } from './children.js';
import { parseFlags } from './flags.js';
import { BURST_RATE, measureConnect, measureRun } from './server-measure.js';
import { warmUp } from './server-memory.js';
import { type BurstKind, type ModeSetup, type Sample, markdown, summarise } from './summary.js';

const optionsSchema = z.object({
  quick: z.boolean(),
  tailAb: z.boolean(),
  tailOnMs: z.coerce.number().int().min(1, '--tail-on-ms must be at least 1').max(3_600_000).optional(),
  sizes: z
    .string()
    .regex(/^\d+(,\d+)*$/, '--sizes must be a comma-separated list of session counts, e.g. 1000,5000')
    .transform((s) => s.split(',').map(Number))
    .pipe(z.array(z.number().int().min(1).max(20_000, '--sizes: at most 20,000 sessions per guild'))),
  modes: z
    .string()
    .transform((s) => s.split(','))
    .pipe(z.array(z.enum(ALL_MODES as [Mode, ...Mode[]], { message: `--modes: each one of ${ALL_MODES.join(', ')}` })).min(1))
    .transform((ms) => ALL_MODES.filter((m) => ms.includes(m))),
  reps: z.coerce.number().int().min(1, '--reps must be at least 1').max(50).optional(),
  messages: z.coerce.number().int().min(1, '--messages must be at least 1').max(100_000).optional(),
  deliveries: z.coerce.number().int().min(1_000, '--deliveries must be at least 1000').max(10_000_000).optional(),
  users: z.coerce.number().int().min(1).max(20_000).optional(),
  connectRate: z.coerce.number().positive('--connect-rate must be above 0').max(100_000),
  pacedRate: z.coerce.number().min(0, '--paced-rate must be 0 (no paced runs) or more').max(10_000_000),
  pin: z.boolean(),
  fromSource: z.boolean(),
  singleThreadedGc: z.boolean(),
  out: z.string().min(1),
});

function parseOptions(argv: string[]) {
  const options = {
    quick: { type: 'boolean', default: false },
    'tail-ab': { type: 'boolean', default: false },
    'tail-on-ms': { type: 'string' },
    sizes: { type: 'string', default: '1000,5000' },
    modes: { type: 'string', default: MODES.join(',') },
    reps: { type: 'string' },
    messages: { type: 'string' },
    deliveries: { type: 'string' },
    users: { type: 'string' },
    'connect-rate': { type: 'string', default: '800' },
    'paced-rate': { type: 'string', default: '20000' },
    pin: { type: 'boolean', default: false },
    'from-source': { type: 'boolean', default: false },
    'single-threaded-gc': { type: 'boolean', default: false },
    out: { type: 'string', default: 'bench/results' },
  } as const;
  const o = parseFlags(argv, options, optionsSchema, fail, (values) => ({ ...values, connectRate: values['connect-rate'], pacedRate: values['paced-rate'], tailAb: values['tail-ab'], tailOnMs: values['tail-on-ms'], fromSource: values['from-source'], singleThreadedGc: values['single-threaded-gc'] }));
  if (o.pin && cpus().length < 2) fail('--pin needs two CPUs (servers on CPU 0, clients on CPU 1)');
  return o.tailAb && !o.modes.includes('notail') ? { ...o, modes: ALL_MODES.filter((m) => m === 'notail' || o.modes.includes(m)) } : o;
}

function fail(message: string): never {
  process.stderr.write(`bench: ${message}\nusage: npm run bench -- [--quick] [--tail-ab] [--tail-on-ms N] [--sizes 1000,5000] [--modes off,file,sampled,notail,spans,naive,socketio,floor,floor-seq] [--reps N] [--messages N | --deliveries N] [--users N] [--connect-rate N] [--paced-rate N] [--pin] [--from-source] [--single-threaded-gc] [--out DIR]\n`);
  process.exit(2);
}

const log = (text: string) => process.stderr.write(`[bench ${((Date.now() - T0) / 1000).toFixed(1).padStart(6)}s] ${text}\n`);
const T0 = Date.now();

/** Deliveries per burst: enough that CPU ticks (10 ms) are a small part of what is measured. */
function messagesFor(size: number, quick: boolean, override?: number, deliveries?: number): number {
  if (override !== undefined) return override;
  return Math.max(5, Math.round((deliveries ?? (quick ? 60_000 : 300_000)) / size));
}

interface Rig {
  server: ServerUnderTest;
  driver: ClientDriver;
}

async function main(): Promise<void> {
  // `npm run bench -- --cluster [...]`: the cluster case, bench/cluster.bench.ts.
  if (process.argv[2] === '--cluster') return (await import('./cluster.bench.js')).runClusterBench(process.argv.slice(3));
  const o = parseOptions(process.argv.slice(2));
  const reps = o.reps ?? (o.quick ? 3 : 5);
  const startedAt = new Date();
  const samples: Sample[] = [];
  const setups: ModeSetup[] = [];
  const messages: Record<number, number> = {};
  const usersBySize: Record<number, number> = {};
  const pin = o.pin ? { server: 0, clients: 1 } : undefined;
  const sink = await startSink();
  log(`otlp sink on port ${sink.port}`);
  const rigs: Rig[] = [];
  try {
    for (const size of o.sizes) {
      const m = (messages[size] = messagesFor(size, o.quick, o.messages, o.deliveries));
      // The owner adds members at Discord's 50 requests/s: a few hundred users keep the setup short;
      // sessions are what the fanout costs, and they are spread over the users.
      const users = (usersBySize[size] = Math.min(size, o.users ?? 100));
      // Start every mode's server and client and build its world at once: that part waits on
      // process start-up and on the REST rate limit, not on the CPU.
      const started = await Promise.all(
        o.modes.map(async (mode) => {
          const tailOn = mode === 'sampled' && o.tailOnMs !== undefined ? { env: { GUILDHALL_SLOW_DELIVERY_MS: String(o.tailOnMs) } } : {};
          const server = await startServer(mode, sink.port, { cpu: pin?.server, fromSource: o.fromSource, nodeFlags: o.singleThreadedGc ? ['--single-threaded-gc'] : [], ...tailOn });
          const driver = ClientDriver.start(pin?.clients);
          rigs.push({ server, driver });
          // One-time work of the first connections goes into the memory baseline, not per session.
          await warmUp(server);
          await driver.setup(server, size, users, o.connectRate);
          return { server, driver };
        }),
      );
      // Connect one mode at a time, so each server's memory and the client's pace are its own.
      for (const { server, driver } of started) {
        const setup = await measureConnect(server, driver, size);
        setups.push(setup);
        if (setup.connected < size) log(`WARNING: ${server.mode}: only ${setup.connected} of ${size} sessions connected`);
        await driver.burst(Math.max(3, Math.round(m / 3)), BURST_RATE); // warm-up: JIT, buffers
        log(
          `${size} sessions, ${server.mode}: ${setup.connected} connected in ${setup.connectS.toFixed(1)} s (${Math.round(setup.sessionsPerS)}/s, ${setup.connectCpuUsPerSession.toFixed(0)} µs CPU/session), ${(setup.memPerSessionBytes / 1024).toFixed(1)} KiB RSS (${(setup.rssLessYoungPerSessionBytes / 1024).toFixed(1)} less young gen), ${(setup.heapPerSessionBytes / 1024).toFixed(1)} KiB heap and ${(setup.externalPerSessionBytes / 1024).toFixed(1)} KiB external/session`,
        );
      }
      const rigsOfSize = started;
      const kinds: BurstKind[] = o.pacedRate > 0 ? ['burst', 'paced'] : ['burst'];
      for (let rep = 1; rep <= reps; rep++) {
        // Rotate the order so no mode always runs first (or right after the heaviest one).
        const order = rigsOfSize.map((_, i) => rigsOfSize[(i + rep - 1) % rigsOfSize.length]!);
        for (const kind of kinds) {
          for (const { server, driver } of order) {
            const s = await measureRun(server, driver, { size, rep, kind, messages: m, pacedRate: o.pacedRate });
            samples.push(s);
            log(
              `${size} rep ${rep} ${kind} ${server.mode.padEnd(9)} ${s.cpuUsPerDelivery.toFixed(2)} µs/delivery (sched ${s.schedUsPerDelivery.toFixed(2)}), ${Math.round(s.deliveriesPerS)} deliveries/s, p50 ${s.p50} ms p99 ${s.p99} ms, lost ${s.lost}`,
            );
          }
        }
      }
      for (const rig of rigsOfSize) {
        await rig.driver.close();
        await stop(rig.server.child);
      }
      rigs.length = 0;
    }
  } finally {
    for (const rig of rigs) {
      await rig.driver.close().catch(() => undefined);
      await stop(rig.server.child).catch(() => undefined);
    }
    await stop(sink.child);
  }

  const { modes, ratios, memory } = summarise(samples, setups);
  const machine = `${cpus().length} × ${cpus()[0]?.model.trim() ?? 'cpu'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}`;
  const md = markdown({ startedAt: startedAt.toISOString(), quick: o.quick, reps, machine, messages, users: usersBySize, pacedRate: o.pacedRate, pinned: pin, fromSource: o.fromSource, singleThreadedGc: o.singleThreadedGc }, modes, ratios, setups, memory);
  const doc = { startedAt: startedAt.toISOString(), quick: o.quick, reps, machine, sizes: o.sizes, messages, users: usersBySize, modes: o.modes, pacedRate: o.pacedRate, pinned: pin ?? null, guildhall: o.fromSource ? 'source (tsx)' : 'compiled (dist)', singleThreadedGc: o.singleThreadedGc, connectRate: o.connectRate, ...(o.tailOnMs !== undefined ? { tailOnMs: o.tailOnMs } : {}), setups, samples, summary: modes, ratios, memory, lost: samples.reduce((n, s) => n + s.lost, 0) };
  await mkdir(o.out, { recursive: true });
  const stamp = startedAt.toISOString().replace(/[:.]/g, '-');
  const json = `${JSON.stringify(doc, null, 2)}\n`;
  await writeFile(join(o.out, `${stamp}.json`), json);
  await writeFile(join(o.out, `${stamp}.md`), md);
  await writeFile(join(o.out, 'latest.json'), json);
  await writeFile(join(o.out, 'latest.md'), md);
  process.stdout.write(`${md}\nwritten: ${join(o.out, `${stamp}.json`)}, ${join(o.out, `${stamp}.md`)} (and latest.*) in ${((Date.now() - T0) / 1000).toFixed(0)} s\n`);
  if (doc.lost > 0) {
    process.stderr.write(`bench: ${doc.lost} deliveries lost\n`);
    process.exitCode = 1;
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench: ${(err as Error)?.stack ?? String(err)}\n`);
  process.exit(1);
});
