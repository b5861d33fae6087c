// The server benchmark: what tracing costs a broadcast, measured on the
// server process itself. For each guild size, four servers run as child
// processes, each with its own client process (client-sim's broadcast
// driver; plain sockets for the floor):
//   off      tracing disabled (OTEL_SDK_DISABLED=true)
//   sampled  every root sampled, OTLP/gRPC export to a local sink process, fanout sampling K=10
//   spans    (only with --modes) as sampled, without the export: tells span work from export work
//   notail   (with --tail-ab or --modes) as sampled, tail capture off (GUILDHALL_SLOW_DELIVERY_MS=0):
//            sampled/notail is what tail capture costs deliveries that are not slow
//   naive    the same with K=10^9: every delivery traced and carrying context
//   floor    a minimal ws server: serialise once, write the bytes to every socket
// Each mode connects its sessions once (memory per idle session = RSS delta /
// sessions), takes a warm-up burst, then the repetitions run interleaved with
// the order rotated, reading /proc/<pid>/stat before and after every burst.
//
//   npm run bench                 (full)
//   npm run bench -- --quick      (under 3 minutes on two cores)
//   flags: --sizes 1000,5000 --modes off,sampled,naive,floor --reps 3 --messages N --users N --connect-rate N --out bench/results
//   (--modes may add `spans`: sampled without the export, to tell the two costs apart)
//   --tail-ab adds `notail` to the modes: tail capture on against off, in one run
//   npm run bench -- --cluster [...]: one guild over 1, 2 and 3 nodes instead (bench/cluster.bench.ts)
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { ALL_MODES, ClientDriver, MODES, type Mode, type ServerUnderTest, startServer, startSink, stop } from './children.js';
import { parseFlags } from './flags.js';
import { cpuMicros, rssBytes, schedMicros } from './proc.js';
import { type ModeSetup, type Sample, markdown, summarise } from './summary.js';

const optionsSchema = z.object({
  quick: z.boolean(),
  tailAb: z.boolean(),
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
  users: z.coerce.number().int().min(1).max(20_000).optional(),
  connectRate: z.coerce.number().positive('--connect-rate must be above 0').max(100_000),
  out: z.string().min(1),
});

function parseOptions(argv: string[]) {
  const options = {
    quick: { type: 'boolean', default: false },
    'tail-ab': { type: 'boolean', default: false },
    sizes: { type: 'string', default: '1000,5000' },
    modes: { type: 'string', default: MODES.join(',') },
    reps: { type: 'string' },
    messages: { type: 'string' },
    users: { type: 'string' },
    'connect-rate': { type: 'string', default: '800' },
    out: { type: 'string', default: 'bench/results' },
  } as const;
  const o = parseFlags(argv, options, optionsSchema, fail, (values) => ({ ...values, connectRate: values['connect-rate'], tailAb: values['tail-ab'] }));
  return o.tailAb && !o.modes.includes('notail') ? { ...o, modes: ALL_MODES.filter((m) => m === 'notail' || o.modes.includes(m)) } : o;
}

function fail(message: string): never {
  process.stderr.write(`bench: ${message}\nusage: npm run bench -- [--quick] [--tail-ab] [--sizes 1000,5000] [--modes off,file,sampled,notail,spans,naive,floor] [--reps N] [--messages N] [--users N] [--connect-rate N] [--out DIR]\n`);
  process.exit(2);
}

const log = (text: string) => process.stderr.write(`[bench ${((Date.now() - T0) / 1000).toFixed(1).padStart(6)}s] ${text}\n`);
const T0 = Date.now();

/** Deliveries per burst: enough that CPU ticks (10 ms) are a small part of what is measured. */
function messagesFor(size: number, quick: boolean, override?: number): number {
  if (override !== undefined) return override;
  const deliveries = quick ? 60_000 : 300_000;
  return Math.max(5, Math.round(deliveries / size));
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
  const sink = await startSink();
  log(`otlp sink on port ${sink.port}`);
  const rigs: Rig[] = [];
  try {
    for (const size of o.sizes) {
      const m = (messages[size] = messagesFor(size, o.quick, o.messages));
      // The owner adds members at Discord's 50 requests/s: a few hundred users keep the setup short;
      // sessions are what the fanout costs, and they are spread over the users.
      const users = (usersBySize[size] = Math.min(size, o.users ?? 100));
      // Start every mode's server and client and build its world at once: that part waits on
      // process start-up and on the REST rate limit, not on the CPU.
      const started = await Promise.all(
        o.modes.map(async (mode) => {
          const server = await startServer(mode, sink.port);
          const driver = ClientDriver.start();
          rigs.push({ server, driver });
          await driver.setup(server, size, users, o.connectRate);
          return { server, driver };
        }),
      );
      // Connect one mode at a time, so each server's memory and the client's pace are its own.
      for (const { server, driver } of started) {
        const mode = server.mode;
        const rssBefore = rssBytes(server.pid);
        const t = Date.now();
        const connected = await driver.connect();
        const connectS = (Date.now() - t) / 1000;
        // Let the connect's garbage settle before reading memory.
        await new Promise((r) => setTimeout(r, 500));
        const rssAfter = rssBytes(server.pid);
        setups.push({ size, mode, connected, rssBeforeBytes: rssBefore, rssAfterBytes: rssAfter, memPerSessionBytes: (rssAfter - rssBefore) / Math.max(1, connected), connectS });
        if (connected < size) log(`WARNING: ${mode}: only ${connected} of ${size} sessions connected`);
        await driver.burst(Math.max(3, Math.round(m / 3)), 5_000); // warm-up: JIT, buffers
        log(`${size} sessions, ${mode}: ${connected} connected in ${connectS.toFixed(1)} s, ${((rssAfter - rssBefore) / Math.max(1, connected) / 1024).toFixed(1)} KiB/session`);
      }
      const rigsOfSize = started;
      for (let rep = 1; rep <= reps; rep++) {
        // Rotate the order so no mode always runs first (or right after the heaviest one).
        const order = rigsOfSize.map((_, i) => rigsOfSize[(i + rep - 1) % rigsOfSize.length]!);
        for (const { server, driver } of order) {
          const cpu0 = cpuMicros(server.pid);
          const sched0 = schedMicros(server.pid);
          const r = await driver.burst(m, 5_000);
          const cpu = cpuMicros(server.pid) - cpu0;
          const sched = schedMicros(server.pid) - sched0;
          const delivered = Math.max(1, r.delivered);
          samples.push({
            size,
            mode: server.mode,
            rep,
            cpuUsPerDelivery: cpu / delivered,
            schedUsPerDelivery: sched / delivered,
            deliveriesPerS: r.deliveriesPerS,
            p50: r.fanout.p50,
            p99: r.fanout.p99,
            sent: r.sent,
            expected: r.expected,
            delivered: r.delivered,
            lost: r.lost,
            duplicated: r.duplicated,
            wallS: r.wallS,
            cpuMs: cpu / 1000,
          });
          log(
            `${size} rep ${rep} ${server.mode.padEnd(7)} ${(cpu / delivered).toFixed(2)} µs/delivery (sched ${(sched / delivered).toFixed(2)}), ${Math.round(r.deliveriesPerS)} deliveries/s, p50 ${r.fanout.p50} ms p99 ${r.fanout.p99} ms, lost ${r.lost}`,
          );
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

  const { modes, ratios } = summarise(samples, setups);
  const machine = `${cpus().length} × ${cpus()[0]?.model.trim() ?? 'cpu'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}`;
  const md = markdown({ startedAt: startedAt.toISOString(), quick: o.quick, reps, machine, messages, users: usersBySize }, modes, ratios);
  const doc = { startedAt: startedAt.toISOString(), quick: o.quick, reps, machine, sizes: o.sizes, messages, users: usersBySize, modes: o.modes, setups, samples, summary: modes, ratios, lost: samples.reduce((n, s) => n + s.lost, 0) };
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
