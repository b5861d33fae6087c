// One run of a scenario, start to finish: tracing, the world through REST,
// the session pool, the scenario itself, the report. Library entry point for
// main.ts, the tests and the benchmark; it never exits the process.
import type { SimOptions } from './cli.js';
import { now, sleep } from './clock.js';
import { HistogramSet } from './histograms.js';
import { sendTrackedMessage } from './messages.js';
import { SessionPool } from './pool.js';
import { Progress } from './progress.js';
import { type SimReport, buildReport } from './report.js';
import { RestClient } from './rest.js';
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
}

export async function runSimulation(options: SimOptions, runOptions: RunOptions = {}): Promise<SimReport> {
  const startedAt = new Date();
  const t0 = now();
  const deadline = t0 + options.timeout * 1000;
  const scenario = scenarioFor(options.scenario);
  const tracing = startSimTracing(runOptions.env ?? process.env);
  const histograms = new HistogramSet();
  const rest = new RestClient(options.url, tracing, histograms);
  const progress = new Progress(options.progress, runOptions.stream ?? process.stderr);
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
    const gateway = await rest.request<{ url: string }>('GET', '/gateway', { route: 'GET /gateway', idempotent: true, histogram: 'rest_setup' });
    const gatewayUrl = `${gateway.url.replace(/\/+$/, '')}?v=10&encoding=json`;

    const labels: Record<string, string> = {};
    for (const g of world.guilds) if (g.label !== undefined) labels[g.id] = g.label;
    pool = await SessionPool.start({
      gatewayUrl,
      labels,
      workers: options.workers,
      sessions: world.sessionUser.map((u, i) => ({
        token: world.users[u]!.token,
        guildIds: world.guildsOfUser[u]!.map((g) => world.guilds[g]!.id),
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
    problems,
  });
}
