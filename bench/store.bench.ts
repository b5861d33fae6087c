// npm run bench:store: what durable storage costs the write path.
//
// Many small guilds (default 200 guilds of 5 members, each member with a
// gateway session receiving the guild's messages) post through REST:
// - closed loop: one poster per guild, each posting as soon as its previous
//   post was answered, for --seconds: persisted messages/s;
// - paced: the same guilds at --paced-fraction of the closed-loop rate that
//   engine reached: REST acknowledgement p50/p99 without a queue.
// For SQLite :memory:, a SQLite file (synchronous=FULL) and PostgreSQL, each
// on a fresh database and a fresh server, engines interleaved within each
// repetition, medians with min-max over repetitions. Targets: file >= 0.8x
// and PostgreSQL >= 0.7x the :memory: throughput; paced ack p99 <= 20 ms.
//
//   npm run bench:store -- [--guilds 200] [--members 5] [--seconds 10] [--reps 3]
//                          [--engines memory,file,postgres] [--paced-fraction 0.5] [--json FILE]
//                          [--server-root DIR]   (another checkout's server, same client: A/B of servers)
//                          [--poster net|http|fetch] (raw HTTP/1.1 on net sockets, the default since 2026-12-02 12:40;
//                          node:http, the default before; or client-sim's RestClient as before that)
//                          [--sessions lean|sim] (counting gateway sessions on a worker, the default; or client-sim's pool)
//                          [--server-node-args="--cpu-prof --cpu-prof-dir=DIR --trace-gc"] [--server-stdout FILE] [--server-env K=V,...]
//                          [--pin]               (server on CPU 0, this process on CPU 1, as `npm run bench -- --pin`)
//                          [--timeline DIR]      (each paced post's latency, and the server's event-loop stalls and GC
//                          pauses from bench/stall-probe.mjs, into DIR: `node --import tsx bench/store-timeline.ts DIR`)
//                          [--from-source]       (server/main.ts through tsx; by default the compiled server `npm start`
//                          runs, as `npm run bench` does since 2026-12-02: tsx's transform costs the server CPU of its own)
//                          (node flags for the server; its stdout, where --trace-gc writes, to FILE; each phase's
//                          window on CLOCK_MONOTONIC, the clock of a CPU profile, is in the JSON: bench/store-profile.ts)
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { now } from '../client-sim/clock.js';
import { HistogramSet } from '../client-sim/histograms.js';
import { MESSAGE_INTENTS } from '../client-sim/protocol.js';
import { RestClient, gatewayUrls } from '../client-sim/rest.js';
import { SessionPool } from '../client-sim/pool.js';
import { LeanSessions } from './store-sessions.js';
import { startSimTracing } from '../client-sim/tracing.js';
import { buildWorld, planWorld } from '../client-sim/world.js';
import { pacedUntil } from '../client-sim/pacing.js';
import { pin, stop } from './children.js';
import { parseFlags } from './flags.js';
import { NetPoster } from './store-net-poster.js';
import { Poster } from './store-poster.js';
import { ENGINES, type Engine, freshDatabase, startGuildhall } from './store-server.js';
import { type PhaseProbe, PhaseMeter } from './store-probes.js';
import { rounded } from './summary.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const STALL_PROBE = fileURLToPath(new URL('./stall-probe.mjs', import.meta.url));

const USAGE =
  'usage: npm run bench:store -- [--guilds N] [--members N] [--seconds S] [--reps N] [--engines memory,file,postgres] [--paced-fraction F] [--json FILE] [--server-root DIR] [--poster net|http|fetch] [--sessions lean|sim] [--server-node-args=ARGS] [--server-stdout FILE] [--server-env K=V,...] [--pin] [--timeline DIR] [--from-source]';
const flags = parseFlags(
  process.argv.slice(2),
  {
    guilds: { type: 'string', default: '200' },
    members: { type: 'string', default: '5' },
    seconds: { type: 'string', default: '10' },
    reps: { type: 'string', default: '3' },
    engines: { type: 'string', default: ENGINES.join(',') },
    'paced-fraction': { type: 'string', default: '0.5' },
    json: { type: 'string' },
    'server-root': { type: 'string' },
    poster: { type: 'string', default: 'net' },
    sessions: { type: 'string', default: 'lean' },
    'server-node-args': { type: 'string', default: '' },
    'server-stdout': { type: 'string' },
    'server-env': { type: 'string', default: '' },
    pin: { type: 'boolean', default: false },
    timeline: { type: 'string' },
    'from-source': { type: 'boolean', default: false },
  },
  z.object({
    guilds: z.coerce.number().int().min(1).max(2_000),
    members: z.coerce.number().int().min(1).max(50),
    seconds: z.coerce.number().min(1).max(600),
    reps: z.coerce.number().int().min(1).max(20),
    engines: z.string().transform((s, ctx) => {
      const list = s.split(',').map((e) => e.trim());
      for (const e of list) if (!(ENGINES as readonly string[]).includes(e)) ctx.addIssue({ code: 'custom', message: `unknown engine ${e} (one of ${ENGINES.join(', ')})` });
      return list as Engine[];
    }),
    'paced-fraction': z.coerce.number().gt(0).max(1),
    json: z.string().optional(),
    'server-root': z.string().optional(),
    poster: z.enum(['net', 'http', 'fetch']),
    sessions: z.enum(['lean', 'sim']),
    'server-node-args': z.string().transform((s) => s.split(/\s+/).filter((a) => a !== '')),
    'server-stdout': z.string().optional(),
    pin: z.boolean(),
    timeline: z.string().optional(),
    'from-source': z.boolean(),
    // K=V,K=V set on the server after the benchmark's own (an A/B of a setting, e.g. GUILDHALL_RESUME_BUFFER).
    'server-env': z.string().transform((s, ctx) => {
      const out: Record<string, string> = {};
      for (const kv of s.split(',').filter((x) => x !== '')) {
        const cut = kv.indexOf('=');
        if (cut <= 0) ctx.addIssue({ code: 'custom', message: `--server-env: ${kv} is not K=V` });
        else out[kv.slice(0, cut)] = kv.slice(cut + 1);
      }
      return out;
    }),
  }),
  (message) => {
    process.stderr.write(`bench:store: ${message}\n${USAGE}\n`);
    process.exit(2);
  },
);

/** What the run needs of the gateway sessions, from the lean ones or from client-sim's pool. */
interface SessionCounts {
  waitFor(done: (s: SessionTally) => boolean, timeoutMs: number): Promise<{ ok: boolean; stats: SessionTally }>;
  close(): Promise<void>;
}
interface SessionTally {
  sessions: number;
  complete: number;
  failed: number;
  /** MESSAGE_CREATEs (lean), or every dispatch (sim: READY and GUILD_CREATE too, so only a difference is read). */
  delivered: number;
  seqGaps: number;
}

async function startSessions(kind: 'lean' | 'sim', gateway: string, restUrl: string, specs: Array<{ token: string; guildIds: string[] }>): Promise<SessionCounts> {
  if (kind === 'lean') {
    const lean = LeanSessions.start({ url: gateway, intents: MESSAGE_INTENTS, sessions: specs, connectPerS: 500 });
    return {
      waitFor: async (done, ms) => {
        const r = await lean.waitFor((s) => done({ ...s, delivered: s.messageCreates, seqGaps: s.seqGaps + s.unexpected }), ms);
        return { ok: r.ok, stats: { ...r.stats, delivered: r.stats.messageCreates, seqGaps: r.stats.seqGaps + r.stats.unexpected } };
      },
      close: () => lean.close(),
    };
  }
  const pool = await SessionPool.start({ gatewayUrls: [gateway], restUrls: [restUrl], sessions: specs.map((s) => ({ ...s, intents: MESSAGE_INTENTS })), labels: {}, workers: 1 });
  await pool.connect(
    specs.map((_, i) => i),
    500,
  );
  return {
    waitFor: async (done, ms) => {
      const r = await pool.waitFor((s) => done({ ...s, delivered: s.events, seqGaps: 0 }), ms);
      return { ok: r.ok, stats: { ...r.stats, delivered: r.stats.events, seqGaps: 0 } };
    },
    close: () => pool.close(),
  };
}

interface RunResult {
  engine: Engine;
  rep: number;
  /** Closed loop: messages acknowledged (so persisted) per second. */
  closedPerS: number;
  closedP50: number;
  closedP99: number;
  /** Paced: the offered rate and the acknowledgement latency at it. */
  pacedRate: number;
  pacedPerS: number;
  pacedP50: number;
  pacedP99: number;
  /** Paced, timed from when each post was due rather than from when it was sent. */
  pacedDueP50: number;
  pacedDueP99: number;
  /** Paced: how late each post was sent after it was due, ms (the load generator's own lateness). */
  pacedLateP50: number;
  pacedLateP99: number;
  pacedLateMax: number;
  errors: number;
  /** Dispatches the sessions received over both phases, and the MESSAGE_CREATEs due (each acknowledged post reaches every member's session). */
  deliveries: number;
  deliveriesExpected: number;
  /** Lean sessions: dispatches whose seq did not follow on, and sessions that closed unasked (both 0 in a healthy run). */
  seqGaps: number;
  sessionsFailed: number;
  /** Server-side latency, event-loop delay, GC, commits and CPU of each phase (store-probes.ts). */
  closedProbe: PhaseProbe;
  pacedProbe: PhaseProbe;
  /** Closed loop: CPU per acknowledged message of the server and of this process (posters and sessions), µs. */
  serverUsPerMsg: number;
  clientUsPerMsg: number;
  /** CPU of the posters' thread (this process's main thread) per acknowledged post, µs: closed loop and paced. */
  posterUsPerPostClosed: number;
  posterUsPerPostPaced: number;
  /** Each phase's start and end on CLOCK_MONOTONIC in µs (a V8 CPU profile's clock), and the server's pid. */
  windows: { serverPid: number; closed: [number, number]; paced: [number, number] };
}

/** CLOCK_MONOTONIC in µs, as a V8 CPU profile's timestamps. */
const monoUs = () => Number(process.hrtime.bigint() / 1000n);

async function runOnce(engine: Engine, rep: number, dir: string): Promise<RunResult> {
  const db = await freshDatabase(engine, dir);
  const server = await startGuildhall(db.url, {
    root: flags['server-root'] ?? ROOT,
    nodeArgs: flags.timeline === undefined ? flags['server-node-args'] : ['--import', STALL_PROBE, ...flags['server-node-args']],
    env: flags.timeline === undefined ? flags['server-env'] : { ...flags['server-env'], STALL_PROBE_DIR: flags.timeline },
    stdout: flags['server-stdout'],
    pin: flags.pin,
    compiled: !flags['from-source'],
  });
  const histograms = new HistogramSet();
  const rest = new RestClient(server.url, startSimTracing({}), histograms);
  let sessions: SessionCounts | undefined;
  let poster: Poster | NetPoster | undefined;
  try {
    const users = flags.guilds * flags.members;
    // User g owns guild g; the other users fill the guilds round-robin, so each has `members` members.
    const plan = planWorld({ users, guilds: flags.guilds, sessions: users, seed: rep + 1, membership: (u) => (u < flags.guilds ? [] : [(u - flags.guilds) % flags.guilds]) });
    const world = await buildWorld(plan, rest);
    // The gateway's URL with the query string, as a client gets it (GET /gateway): the server's base URL here
    // (as until 2026-12-02 12:50) made every session fail, so no run from 2026-12-01 23:11 on had any.
    const [gateway] = await gatewayUrls(rest, [server.url]);
    const specs = world.sessionUser.map((u) => ({ token: world.users[u]!.token, guildIds: world.guildsOfUser[u]!.map((g) => world.guilds[g]!.id) }));
    sessions = await startSessions(flags.sessions, gateway!, server.url, specs);
    const ready = await sessions.waitFor((s) => s.complete + s.failed >= s.sessions, 60_000);
    if (!ready.ok || ready.stats.complete < ready.stats.sessions) {
      throw new Error(`gateway sessions not ready: ${ready.stats.complete} of ${ready.stats.sessions} complete, ${ready.stats.failed} failed`);
    }
    const deliveredBefore = ready.stats.delivered;

    poster = flags.poster === 'net' ? new NetPoster(server.url, histograms) : new Poster(server.url, histograms);
    const lean = poster;
    const post = async (g: number, n: number) => {
      const guild = world.guilds[g]!;
      const author = world.users[guild.members[n % guild.members.length]!]!;
      if (flags.poster === 'fetch') {
        await rest.request('POST', `/channels/${guild.channelId}/messages`, { token: author.token, body: { content: `g${g} m${n}` }, route: 'POST /channels/{id}/messages' });
      } else if (!(await lean.post(guild.channelId, author.token, `g${g} m${n}`))) {
        throw new Error('post failed');
      }
    };

    // Closed loop: every guild posts as fast as it is answered.
    const meter = new PhaseMeter(server.url, server.child.pid!);
    histograms.clear();
    const errorsBefore = rest.counters.errors + poster.errors;
    await meter.start();
    let acked = 0;
    const closedStart = monoUs();
    const t0 = performance.now();
    const until = t0 + flags.seconds * 1000;
    await Promise.all(
      world.guilds.map(async (_, g) => {
        for (let n = 0; performance.now() < until; n++) {
          try {
            await post(g, n);
            acked++;
          } catch {
            // counted by the client
          }
        }
      }),
    );
    const closedPerS = acked / ((performance.now() - t0) / 1000);
    const closedEnd = monoUs();
    const closed = histograms.get('rest').summary();
    const closedProbe = await meter.end();

    // Paced: a fraction of that rate, spread evenly.
    histograms.clear();
    const pacedRate = Math.max(1, Math.round(closedPerS * flags['paced-fraction']));
    let pacedAcked = 0;
    await meter.start();
    const pacedStart = monoUs();
    const p0 = performance.now();
    // --timeline: each paced post's due time (wall clock) and its latency from due, beside the server's stalls.
    const timeline: number[] = [];
    await pacedUntil(Math.ceil(pacedRate * flags.seconds), pacedRate, now() + flags.seconds * 1000 + 30_000, async (i) => {
      histograms.record('rest.late', performance.now() - (p0 + (i / pacedRate) * 1000));
      try {
        await post(i % world.guilds.length, i);
        pacedAcked++;
        // Also timed from when the post was due (pacedUntil's schedule, same origin within µs):
        // this includes the client's own lateness in sending, which the request's timing
        // leaves out. Neither alone is the server's; both are reported.
        const fromDue = performance.now() - (p0 + (i / pacedRate) * 1000);
        histograms.record('rest.due', fromDue);
        if (flags.timeline !== undefined) timeline.push(performance.timeOrigin + p0 + (i / pacedRate) * 1000, fromDue);
      } catch {
        // counted by the client
      }
    });
    const pacedPerS = pacedAcked / ((performance.now() - p0) / 1000);
    const pacedEnd = monoUs();
    if (flags.timeline !== undefined) {
      writeFileSync(join(flags.timeline, `paced-${engine}-${rep}-${server.child.pid}.json`), JSON.stringify({ engine, rep, serverPid: server.child.pid, pacedRate, dueAndMs: timeline }));
    }
    const paced = histograms.get('rest').summary();
    const pacedDue = histograms.get('rest.due').summary();
    const pacedLate = histograms.get('rest.late').summary();
    const pacedProbe = await meter.end();
    // Every acknowledged post is a MESSAGE_CREATE to each member's session: wait (bounded) for the last ones.
    const expected = (acked + pacedAcked) * flags.members;
    const delivered = await sessions.waitFor((s) => s.delivered - deliveredBefore >= expected, 10_000);
    const stats = delivered.stats;
    return {
      engine,
      rep,
      closedPerS,
      closedP50: closed.p50,
      closedP99: closed.p99,
      pacedRate,
      pacedPerS,
      pacedP50: paced.p50,
      pacedP99: paced.p99,
      pacedDueP50: pacedDue.p50,
      pacedDueP99: pacedDue.p99,
      pacedLateP50: pacedLate.p50,
      pacedLateP99: pacedLate.p99,
      pacedLateMax: pacedLate.max,
      errors: rest.counters.errors + poster.errors - errorsBefore,
      deliveries: stats.delivered - deliveredBefore,
      seqGaps: stats.seqGaps,
      sessionsFailed: stats.failed,
      deliveriesExpected: expected,
      closedProbe,
      pacedProbe,
      serverUsPerMsg: (closedProbe.serverCpu * 1000) / closedPerS,
      clientUsPerMsg: (closedProbe.clientCpu * 1000) / closedPerS,
      posterUsPerPostClosed: (closedProbe.clientMainCpu * 1000) / closedPerS,
      posterUsPerPostPaced: (pacedProbe.clientMainCpu * 1000) / Math.max(1, pacedPerS),
      windows: { serverPid: server.child.pid!, closed: [closedStart, closedEnd], paced: [pacedStart, pacedEnd] },
    };
  } finally {
    poster?.close();
    await sessions?.close();
    await stop(server.child);
    await db.drop();
  }
}

function probeLine(p: PhaseProbe): string {
  const f = (x: number, d = 1) => x.toFixed(d);
  return (
    `server p50 ${f(p.serverP50)} p99 ${f(p.serverP99)} ms [${p.serverP99Bucket}], loop p99 ${f(p.serverLoopP99)} max ${f(p.serverLoopMax)}, gc ${f(p.serverGcMs, 0)} ms/${p.serverGcs} (mark-compact ${f(p.serverMajorGcMs, 0)} ms/${p.serverMajorGcs}); ` +
    `commits ${p.commits} (${f(p.commitWrites / Math.max(1, p.commits))} writes, ${f(p.commitMeanMs, 2)} ms); ` +
    `waiting for a core: server ${f(p.serverRunqueueMs)} ms/s (${f(p.serverPreemptsPerS, 0)} preemptions/s), posters ${f(p.clientRunqueueMs)} ms/s (${f(p.clientPreemptsPerS, 0)}/s); ` +
    `cpu server ${f(p.serverCpu, 0)} client ${f(p.clientCpu, 0)} (main ${f(p.clientMainCpu, 0)}) pg ${f(p.postgresCpu, 0)} ms/s; client loop p99 ${f(p.clientLoopP99)} max ${f(p.clientLoopMax)} ms; load ${f(p.load1, 2)}`
  );
}

async function main(): Promise<void> {
  // --pin: the server (every thread) on CPU 0, this process (posters and the session pool's worker) on CPU 1, as
  // `npm run bench -- --pin`: the load generator no longer takes the server's core, as clients on other machines
  // would not. PostgreSQL is not ours to pin: it floats. Off by default, so runs stay comparable with earlier ones.
  if (flags.pin) {
    if (cpus().length < 2) throw new Error('--pin needs two CPUs');
    pin(process.pid, 1);
  }
  const dir = mkdtempSync(join(tmpdir(), 'guildhall-bench-store-'));
  if (flags.timeline !== undefined) mkdirSync(flags.timeline, { recursive: true });
  const results: RunResult[] = [];
  const startedAt = new Date().toISOString();
  try {
    for (let rep = 0; rep < flags.reps; rep++) {
      // Interleaved: each repetition runs every engine, in a rotated order.
      const order = flags.engines.map((_, i) => flags.engines[(i + rep) % flags.engines.length]!);
      for (const engine of order) {
        const r = await runOnce(engine, rep, dir);
        results.push(r);
        process.stderr.write(
          `rep ${rep + 1}/${flags.reps} ${engine}: ${r.closedPerS.toFixed(0)} msg/s closed (p99 ${r.closedP99.toFixed(1)} ms, CPU µs/msg server ${r.serverUsPerMsg.toFixed(0)} client ${r.clientUsPerMsg.toFixed(0)}); paced ${r.pacedRate}/s: p50 ${r.pacedP50.toFixed(1)} p99 ${r.pacedP99.toFixed(1)} ms (from due: ${r.pacedDueP50.toFixed(1)} / ${r.pacedDueP99.toFixed(1)}; sent late p99 ${r.pacedLateP99.toFixed(1)} max ${r.pacedLateMax.toFixed(1)}); poster CPU µs/post closed ${r.posterUsPerPostClosed.toFixed(1)} paced ${r.posterUsPerPostPaced.toFixed(1)}; deliveries ${r.deliveries} of ${r.deliveriesExpected} (seq gaps ${r.seqGaps}, sessions failed ${r.sessionsFailed}); errors ${r.errors}\n` +
            `  closed: ${probeLine(r.closedProbe)}\n  paced:  ${probeLine(r.pacedProbe)}\n`,
        );
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }

  const by = (engine: Engine, pick: (r: RunResult) => number) => results.filter((r) => r.engine === engine).map(pick);
  const fmt = (xs: number[], digits = 0) => {
    const s = rounded(xs, digits);
    return `${s.median} (${s.min}–${s.max})`;
  };
  const lines = [
    `bench:store, ${startedAt}, ${flags.guilds} guilds x ${flags.members} members, ${flags.seconds} s per phase, ${flags.reps} repetitions, ${cpus().length} cores, Node ${process.versions.node}, posters: ${flags.poster}, sessions: ${flags.sessions}, server ${flags['from-source'] ? 'from source (tsx)' : 'compiled (dist)'}${flags.pin ? ', pinned (server CPU 0, client CPU 1)' : ''}${flags['server-root'] === undefined ? '' : `, server from ${flags['server-root']}`}`,
    '',
    '| engine | closed loop msg/s | closed ack p99 ms | paced rate /s | paced ack p50 ms | paced ack p99 ms | errors | deliveries missing |',
    '|---|---|---|---|---|---|---|---|',
    ...flags.engines.map(
      (e) =>
        `| ${e} | ${fmt(by(e, (r) => r.closedPerS))} | ${fmt(by(e, (r) => r.closedP99), 1)} | ${fmt(by(e, (r) => r.pacedRate))} | ${fmt(by(e, (r) => r.pacedP50), 1)} | ${fmt(by(e, (r) => r.pacedP99), 1)} | ${by(e, (r) => r.errors).reduce((a, b) => a + b, 0)} | ${by(e, (r) => Math.max(0, r.deliveriesExpected - r.deliveries)).reduce((a, b) => a + b, 0)} |`,
    ),
    '',
    // Where the paced tail is: the server's own histogram (bucketed: 10, 15, 20, 25, 50 ms bounds since 2026-12-02 06:10) and event loop, and the client's loop.
    '| engine | closed CPU µs/msg server | client | paced server p99 ms | paced ack p99 from due ms | server loop p99 ms | server GC ms/s | server waiting for a core ms/s (preemptions/s) | client loop p99 ms | client CPU ms/s | load (1 min) | poster CPU µs/post closed | paced | paced sent late p99 ms |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|---|---|',
    ...flags.engines.map(
      (e) =>
        `| ${e} | ${fmt(by(e, (r) => r.serverUsPerMsg))} | ${fmt(by(e, (r) => r.clientUsPerMsg))} | ${fmt(by(e, (r) => r.pacedProbe.serverP99), 1)} | ${fmt(by(e, (r) => r.pacedDueP99), 1)} | ${fmt(by(e, (r) => r.pacedProbe.serverLoopP99), 1)} | ${fmt(by(e, (r) => r.pacedProbe.serverGcMs / flags.seconds), 1)} | ${fmt(by(e, (r) => r.pacedProbe.serverRunqueueMs), 1)} (${fmt(by(e, (r) => r.pacedProbe.serverPreemptsPerS))}) | ${fmt(by(e, (r) => r.pacedProbe.clientLoopP99), 1)} | ${fmt(by(e, (r) => r.pacedProbe.clientCpu))} | ${fmt(by(e, (r) => r.pacedProbe.load1), 1)} | ${fmt(by(e, (r) => r.posterUsPerPostClosed), 1)} | ${fmt(by(e, (r) => r.posterUsPerPostPaced), 1)} | ${fmt(by(e, (r) => r.pacedLateP99), 1)} |`,
    ),
  ];
  // Ratios to :memory:, per repetition (same conditions), then the median.
  const ratios: Record<string, ReturnType<typeof rounded>> = {};
  if (flags.engines.includes('memory')) {
    for (const e of flags.engines.filter((x) => x !== 'memory')) {
      const xs = results
        .filter((r) => r.engine === e)
        .map((r) => r.closedPerS / results.find((m) => m.engine === 'memory' && m.rep === r.rep)!.closedPerS);
      ratios[`${e}/memory`] = rounded(xs, 2);
      lines.push('', `${e}/memory throughput: ${fmt(xs, 2)} (target ${e === 'file' ? '>= 0.8' : '>= 0.7'})`);
    }
  }
  process.stdout.write(`${lines.join('\n')}\n`);
  const out = flags.json ?? join(ROOT, 'bench', 'results', 'store', `${startedAt.replace(/[:.]/g, '-')}-node${process.versions.node.split('.')[0]}.json`);
  mkdirSync(join(out, '..'), { recursive: true });
  writeFileSync(out, `${JSON.stringify({ startedAt, flags, results, ratios, table: lines }, null, 2)}\n`);
  process.stderr.write(`written ${out}\n`);
}

await main();
