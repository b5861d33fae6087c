// The entry point: `npm start` (node dist/server/main.js), or in development
// `node --import tsx server/main.ts`.
//
// Exit statuses: 0 after a clean shutdown (SIGTERM/SIGINT), 2 for a bad
// configuration (fix it and start again; restarting as is will not help),
// 1 for anything else, including a shutdown that overran its deadline.
import { type GuildhallServer, createServer } from './app.js';
import { type Config, ConfigError, formatConfigError, loadConfig } from './config.js';
import { lowerGcHelperPriority } from './gc-helper-priority.js';
import { applyGcSettings } from './gc-settings.js';
import { drainStdout } from './log-destination.js';
import { type DrainingCluster, drainNode } from './gateway/session-drain.js';
import { type SeedResult, seedDemoWorld } from './seed.js';
import { StoreError } from './store/errors.js';
import { startExitWatchdog } from './watchdog.js';
import { TracingConfigError } from '../tracing/index.js';

const EXIT_CONFIG = 2;
// How long a clean shutdown waits for stdout to take its last lines (within the deadline).
const DRAIN_STDOUT_MS = 500;

// A reader that went away makes writes to stdout/stderr fail with EPIPE; that is
// no reason to crash (and nothing can be reported on a dead pipe anyway).
process.stdout.on('error', () => {});
process.stderr.on('error', () => {});

function fail(status: number, text: string): never {
  process.stderr.write(`${text}\n`);
  process.exit(status);
}

function banner(config: Config, server: GuildhallServer, base: string, seeded: SeedResult | undefined): string {
  const api = `${base}/api/v10`;
  const ws = `${base.replace(/^http/, 'ws')}/gateway?v=10&encoding=json`;
  const lines = [
    'Guildhall is up.',
    `  REST API:  ${api}`,
    `  Gateway:   ${ws}`,
    `  Health:    ${base}/healthz`,
    `  Metrics:   ${base}/metrics`,
    `  Traces:    ${base}/debug/traces   (the built-in viewer)`,
    `  Tracing:   ${server.ctx.tracing.describe()}`,
  ];
  if (config.tokenSecretGenerated && config.database.kind === 'sqlite' && config.database.path === ':memory:') {
    lines.push('', 'The database is in memory (DATABASE_URL=sqlite::memory:): every message, user and token dies with this process.');
  } else if (config.tokenSecretGenerated) {
    lines.push('', 'GUILDHALL_TOKEN_SECRET is not set: tokens are signed with a secret generated once and kept in the database.');
  }
  const alice = seeded?.users.find((u) => u.username === 'alice');
  if (seeded !== undefined && alice !== undefined) {
    lines.push('', 'Demo users (Authorization: Bot <token>):');
    const width = Math.max(...seeded.users.map((u) => u.username.length));
    for (const u of seeded.users) lines.push(`  ${u.username.padEnd(width)}  ${u.id}  ${u.token}${u.bot ? '  (bot)' : ''}`);
    const lobby = seeded.guilds.find((g) => g.name === 'Guildhall Lobby');
    lines.push('', 'Try:', `  curl -H 'Authorization: Bot ${alice.token}' ${api}/users/@me/guilds`);
    if (lobby?.channels.general !== undefined) {
      const messages = `${api}/channels/${lobby.channels.general}/messages`;
      lines.push(`  curl -H 'Authorization: Bot ${alice.token}' '${messages}?limit=5'`);
      lines.push(`  curl -X POST -H 'Authorization: Bot ${alice.token}' -H 'Content-Type: application/json' -d '{"content":"hello"}' ${messages}`);
    }
  }
  if (config.devAccounts) {
    lines.push(`  curl -X POST -H 'Content-Type: application/json' -d '{"username":"dave"}' ${api}/dev/users`);
  }
  return `${lines.join('\n')}\n`;
}

/** The server's cluster mode, when it runs one (GUILDHALL_NATS_URL): what a drain needs of it. */
function clusterOf(server: GuildhallServer): DrainingCluster | undefined {
  return server.cluster;
}

/**
 * Cluster mode: the node drains before it closes (server/gateway/session-drain.ts):
 * guilds handed over, clients told to reconnect, and their sessions' state handed
 * to the nodes they resume on. A single node closes at once, as it always did.
 */
async function drainIfClustered(server: GuildhallServer, config: Config): Promise<void> {
  const cluster = clusterOf(server);
  if (cluster === undefined) return;
  server.beginDrain();
  await drainNode({
    gateway: server.gateway,
    sessions: server.ctx.sessions,
    cluster,
    timeoutMs: config.cluster?.drainTimeoutMs ?? 0,
    clock: server.ctx.system.clock,
    logger: server.logger,
  });
}

async function main(): Promise<void> {
  let config: Config;
  try {
    config = loadConfig(process.env, process.argv.slice(2));
  } catch (err) {
    if (err instanceof ConfigError) fail(EXIT_CONFIG, formatConfigError(err));
    throw err;
  }
  applyGcSettings(config.gc);
  // Before the server makes threads of its own: only V8's are lowered.
  const helpers = lowerGcHelperPriority(config.gc.helperNice);

  let server: GuildhallServer;
  try {
    server = await createServer(config);
  } catch (err) {
    if (err instanceof TracingConfigError) fail(EXIT_CONFIG, err.message);
    // A schema newer than this binary, a missing native binding: restarting as is will not help.
    if (err instanceof ConfigError) fail(EXIT_CONFIG, formatConfigError(err));
    if (err instanceof StoreError) fail(1, `cannot open the database (${config.database.kind}): ${err.message}`);
    throw err;
  }

  if (helpers.error !== undefined) server.logger.warn({ err: helpers.error, nice: config.gc.helperNice }, 'could not lower the priority of V8 helper threads');
  const seeded = config.seed ? await seedDemoWorld(server.ctx) : undefined;
  let base: string;
  try {
    base = await server.listen();
  } catch (err) {
    // EADDRINUSE, EACCES: the operator's to fix, stated plainly.
    fail(1, `cannot listen on ${config.host}:${config.port}: ${(err as Error).message}`);
  }
  // Handlers first, banner second: whoever reads the banner may signal at
  // once, and a signal that arrives before its handler kills the process.
  let stopping = false;
  const stop = (signal: NodeJS.Signals): void => {
    if (stopping) fail(1, `${signal} again: exiting without finishing the shutdown`);
    stopping = true;
    server.logger.info({ signal }, 'shutting down');
    // The close itself is bounded by shutdownTimeoutMs (tracing flush), a drain by drainTimeoutMs.
    // Two backstops: a timer on the loop, and one on another thread should the loop ever be blocked.
    const deadlineMs = (clusterOf(server) === undefined ? 0 : (config.cluster?.drainTimeoutMs ?? 0)) + config.shutdownTimeoutMs + 1000;
    setTimeout(() => fail(1, `shutdown took longer than ${deadlineMs} ms`), deadlineMs).unref();
    startExitWatchdog(deadlineMs + 1000);
    drainIfClustered(server, config)
      .then(() => server.close())
      .then(
        async () => {
          await drainStdout(DRAIN_STDOUT_MS);
          process.exit(0);
        },
        (err: unknown) => fail(1, `shutdown failed: ${String((err as Error)?.stack ?? err)}`),
      );
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  process.stdout.write(banner(config, server, base, seeded));
}

main().catch((err: unknown) => fail(1, `guildhall failed to start: ${String((err as Error)?.stack ?? err)}`));
