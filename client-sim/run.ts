// One run of a scenario, start to finish: tracing, the world through REST,
// the session pool, the scenario itself, the report. Library entry point for
// main.ts, the tests and the benchmark; it never exits the process.
import type { SimOptions } from './cli.js';
import { now, sleep } from './clock.js';
import { HistogramSet } from './histograms.js';
import type { LocalCluster } from './local-cluster.js';
import { sendTrackedMessage } from './messages.js';
import { SessionPool } from './pool.js';
import { Progress } from './progress.js';
import { type SimReport, buildReport } from './report.js';
import { RestClient, gatewayUrls } from './rest.js';
import { Rng } from './rng.js';
import { type RunContext, type RunHooks, scenarioFor } from './scenarios/index.js';
import { startSimTracing } from './tracing.js';
import { buildWorld, planWorld } from './world.js';

export interface RunOptions {
  hooks?: RunHooks;
  /** Where progress goes (default stderr). */
  stream?: NodeJS.WriteStream;
  /** OTEL_* variables for the simulator's own tracing (default process.env). */
  env?: NodeJS.ProcessEnv;
  /** Extra variables for nodes started with --spawn-cluster (tests shorten timeouts with it). */
  nodeEnv?: Record<string, string>;
}

/** What spawned nodes get besides the cluster settings: client-sim's load is many sessions per user, fast. */
const SPAWNED_NODE_ENV: Record<string, string> = {
  LOG_LEVEL: 'warn',
  GUILDHALL_MAX_CONCURRENCY: '1000000',
  GUILDHALL_ROUTE_RATE_LIMITS: 'off',
  OTEL_SDK_DISABLED: 'true',
};

export async function runSimulation(given: SimOptions, runOptions: RunOptions = {}): Promise<SimReport> {
  const startedAt = new Date();
  const t0 = now();
  const deadline = t0 + given.timeout * 1000;
  const scenario = scenarioFor(given.scenario);
  const tracing = startSimTracing(runOptions.env ?? process.env);
  const histograms = new HistogramSet();
  const progress = new Progress(given.progress, runOptions.stream ?? process.stderr);
  let cluster: LocalCluster | undefined;
  let options = given;
  if (given.spawnCluster > 0) {
    progress.note(`starting ${given.spawnCluster} local node(s)`);
    try {
      // Loaded only here: runs against given URLs never load the process management (or pg).
      const { LocalCluster } = await import('./local-cluster.js');
      cluster = await LocalCluster.start({
        nodes: given.spawnCluster,
        basePort: given.basePort,
        natsUrl: given.natsUrl,
        databaseUrl: given.databaseUrl,
        // A cluster of its own on the shared NATS: runs never see each other's nodes or leases.
        cluster: `sim-${process.pid}-${Math.floor(Math.random() * 1e9).toString(36)}`,
        env: { ...SPAWNED_NODE_ENV, ...runOptions.nodeEnv },
        output: (i, line) => progress.note(`[node${i + 1}] ${line}`),
      });
    } catch (err) {
      throw new Error(`--spawn-cluster: ${(err as Error).message}`);
    }
    options = { ...given, urls: cluster.urls };
  }
  const rest = new RestClient(options.urls, tracing, histograms);
  const problems: string[] = [];
  const notes: Record<string, number | string> = {};
  const sent = { messages: 0, presence: 0, failed: 0 };
  let stage = 'setup';
  let load = { start: 0, end: 0 };
  let pool: SessionPool | undefined;
  let ticker: NodeJS.Timeout | undefined;

  try {
    // --- world ---
    const shape = scenario.plan(options);
    const plan = planWorld({ users: options.users, guilds: options.guilds, sessions: options.sessions, seed: options.seed, membership: shape.membership, label: shape.label });
    let lastSetupNote = 0;
    const world = await buildWorld(plan, rest, (what, done, total) => {
      if (now() - lastSetupNote > progress.intervalMs || done === total) {
        lastSetupNote = now();
        progress.update({ elapsedS: (now() - t0) / 1000, stage: `setup: ${what} ${done}/${total}` });
      }
    });
    progress.end();
    const gateways = await gatewayUrls(rest);

    const labels: Record<string, string> = {};
    for (const g of world.guilds) if (g.label !== undefined) labels[g.id] = g.label;
    pool = await SessionPool.start({
      gatewayUrls: gateways,
      restUrls: options.urls,
      labels,
      workers: options.workers,
      sessions: world.sessionUser.map((u, i) => ({
        token: world.users[u]!.token,
        guildIds: world.guildsOfUser[u]!.map((g) => world.guilds[g]!.id),
        channelIds: world.guildsOfUser[u]!.map((g) => world.guilds[g]!.channelId),
        intents: shape.intents(i),
        recordConnect: shape.recordConnect?.(i) ?? true,
      })),
    });

    // --- progress ---
    let lastEvents = 0;
    let lastTick = now();
    let ticking = false;
    ticker = setInterval(() => {
      if (ticking || !pool) return;
      ticking = true;
      pool
        .stats()
        .then((stats) => {
          const t = now();
          const eventsPerS = ((stats.events - lastEvents) * 1000) / Math.max(1, t - lastTick);
          lastEvents = stats.events;
          lastTick = t;
          progress.update({ elapsedS: (t - t0) / 1000, stage, stats, eventsPerS, sent: sent.messages + sent.presence, toSend: options.messages, restErrors: rest.counters.errors });
        })
        .catch(() => {})
        .finally(() => (ticking = false));
    }, progress.intervalMs);

    // --- the scenario ---
    const rng = new Rng(options.seed ^ 0x5bd1e995);
    const p = pool;
    const ctx: RunContext = {
      options,
      world,
      pool: p,
      rest,
      rng,
      hooks: runOptions.hooks ?? {},
      cluster,
      notes,
      problems,
      sent,
      deadline,
      left: () => Math.max(0, deadline - now()),
      stage(name) {
        stage = name;
      },
      note(text) {
        progress.note(text);
      },
      loadStarted() {
        load = { start: now(), end: 0 };
      },
      loadEnded() {
        load.end = now();
      },
      sendMessage: (guild, key) =>
        sendTrackedMessage(world, rest, p, rng, sent, guild, key, (err) => {
          if (sent.failed <= 3) progress.note(`send failed: ${err.message}`);
        }),
      async sendPresence(session, key, status) {
        const ok = await p.presence(session, key, status);
        if (ok) sent.presence++;
        else sent.failed++;
        return ok;
      },
    };
    await scenario.run(ctx);
    if (now() > deadline) problems.push(`run hit its --timeout of ${options.timeout} s`);
  } catch (err) {
    problems.push(`run aborted: ${(err as Error).message}`);
  } finally {
    if (ticker) clearInterval(ticker);
    progress.end();
  }

  const hosts = pool ? await pool.results().catch((err: unknown) => (problems.push(`collecting results: ${(err as Error).message}`), [])) : [];
  const durationS = (now() - t0) / 1000;
  if (pool) await pool.close();
  if (cluster) await cluster.stop().catch((err: unknown) => problems.push(`stopping the nodes: ${(err as Error).message}`));
  await tracing.shutdown();
  // Let closing handshakes finish before the caller tears the server down.
  await sleep(20);

  return buildReport({
    options,
    startedAt,
    durationS,
    loadS: load.start > 0 ? ((load.end || now()) - load.start) / 1000 : 0,
    hosts,
    histograms,
    rest: { ...rest.counters },
    sent,
    notes,
    expectsLoss: scenario.expectsLoss === true,
    expectsNodeLoss: scenario.expectsNodeLoss === true,
    problems,
  });
}
