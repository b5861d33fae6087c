// Builds one Guildhall server: tracing, the actor system with the Transport,
// the store, the Fastify app with the REST API, and the gateway on the same
// HTTP server. Nothing here is a module-level singleton, so tests may run
// several servers in one process.
import { type Attributes, ROOT_CONTEXT, context, createContextKey } from '@opentelemetry/api';
import Fastify, { type FastifyInstance } from 'fastify';
import { ActorSystem, type Clock } from '../actors/index.js';
import { ATTR_GUILD_ID, CommitSpans, CountingBatchSpanProcessor, DebugSampler, TraceStore, Transport, exportsSpans, parseTracingEnv, startTracing } from '../tracing/index.js';
import { wireRelay } from './actor-runtime.js';
import { type Config, publicBaseUrl } from './config.js';
import { SessionDirectory, type ServerContext } from './context.js';
import { registerDebugAccess } from './debug/access.js';
import { GuildDebugSampling } from './debug/guild-debug.js';
import { actorRoutes } from './debug/actors-routes.js';
import { samplingRoutes } from './debug/sampling-routes.js';
import { viewerRoutes } from './debug/viewer-routes.js';
import { type GatewayServer, attachGateway } from './gateway/gateway-server.js';
import { ClusterMode } from './cluster/cluster-mode.js';
import { guildStartOf } from './cluster/guild-handoff.js';
import { type GuildDeps, guildBehaviour } from './guild/guild-actor.js';
import { type GuildHandoff, type GuildProtocol, guildKey } from './guild/guild-protocol.js';
import { type ServerLogger, createLogger } from './logger.js';
import { registerClusterMetrics } from './metrics/cluster-metrics.js';
import { metricsRoute } from './metrics/metrics-route.js';
import { ServerMetrics } from './metrics/server-metrics.js';
import { StoreMetrics } from './metrics/store-metrics.js';
import { GuildPubSub } from './pubsub/guild-pubsub.js';
import { LocalAdapter } from './pubsub/pubsub-adapter.js';
import { API_PREFIX, registerApi } from './rest/api.js';
import { RateLimiter } from './rest/auth.js';
import { RouteLimiter, type RouteLimiterOptions } from './rest/route-limits.js';
import { handleClientError } from './rest/client-error.js';
import { registerErrorHandling, sendHttpError, toHttpError } from './rest/error-handler.js';
import { registerIngressTracing } from './rest/ingress-tracing.js';
import { registerJsonBody } from './rest/json-body.js';
import { type Readiness, healthRoutes } from './rest/routes/health.js';
import { openSqlStore } from './store/sql-store.js';
import type { Store } from './store/store.js';
import { StoreError } from './store/errors.js';
import { WriteBatcher } from './store/write-batcher.js';

/** Discord's largest JSON body is far below this; anything bigger is 413 / 40005. */
export const BODY_LIMIT_BYTES = 64 * 1024;

/** A guild's mailbox: deep enough for bursts, bounded so an overloaded guild answers 503 instead of eating memory. */
const GUILD_MAILBOX = { capacity: 50_000, overflow: 'reject' } as const;

const GUILD_KEY_PREFIX = guildKey('');

const AT_ME_ENCODED = /\/%40me(?=[/?#]|$)/gi;

export interface CreateServerOptions {
  /** Where OTEL_* variables are read from (default process.env). */
  tracingEnv?: NodeJS.ProcessEnv;
  /** Replaces the store opened from config.database (the caller then closes it). */
  store?: Store;
  /** Replaces the logger made from config.logLevel (tests read log lines back). */
  logger?: ServerLogger;
  /** Requests per second per user; overrides config.rateLimitPerSecond. */
  rateLimitPerSecond?: number;
  /** Per-route buckets (tests use small limits and short windows); enabled follows config.routeRateLimits unless given. */
  routeLimits?: RouteLimiterOptions;
  /** Wall clock (epoch ms) for debug-sampling windows; tests move it instead of waiting minutes. */
  debugClock?: () => number;
  /** Replaces the per-user rate limiter (tests inject one with a frozen clock). */
  rateLimiter?: RateLimiter;
  /**
   * Monotonic clock and timers of the actor system, and so of the gateway's
   * heartbeat, identify and resume deadlines and its IDENTIFY limit (tests pass
   * a ManualClock and move it instead of sleeping). Default: the real clock.
   */
  clock?: Clock;
}

export interface GuildhallServer {
  readonly app: FastifyInstance;
  readonly ctx: ServerContext;
  /** The built-in viewer's spans (empty when tracing is disabled). */
  readonly traceStore: TraceStore;
  readonly metrics: ServerMetrics;
  readonly gateway: GatewayServer;
  readonly logger: ServerLogger;
  /** Cluster mode (GUILDHALL_NATS_URL): membership, guild placement and handover; undefined on a single node. */
  readonly cluster: ClusterMode | undefined;
  /** Starts listening on config.host:config.port; resolves to the base URL (http://host:port). */
  listen(): Promise<string>;
  /**
   * A drain begins (cluster mode, SIGTERM): /healthz and /readyz answer 503 `draining`, so
   * balancers stop sending here, and every HTTP response from now on carries `Connection: close`,
   * so keep-alive clients reconnect elsewhere after their request instead of racing the close.
   * Requests are still served until `close`.
   */
  beginDrain(): void;
  /** Drains and stops: gateway clients are told to reconnect, then everything closes. Idempotent. */
  close(): Promise<void>;
}

/**
 * Operator endpoints never start a trace: looking at traces (or scraping
 * metrics, or a container health check every few seconds) must not fill the
 * viewer and the collector with traces of looking.
 */
function isOperatorRequest(attributes: Attributes): boolean {
  const path = attributes['url.path'];
  return typeof path === 'string' && (path === '/metrics' || path === '/healthz' || path === '/readyz' || path === '/debug' || path.startsWith('/debug/'));
}

/**
 * Whether a working context manager is installed. The first server registers
 * the SDK globally (which installs AsyncLocalStorage, needed for
 * `context.with`); later ones in the same process must not try again. Our
 * code never uses the global tracer, so the later ones lose nothing (their
 * Transport reads the context through the API instead of the manager).
 */
function contextManagerInstalled(): boolean {
  const key = createContextKey('guildhall.context-probe');
  return context.with(ROOT_CONTEXT.setValue(key, true), () => context.active().getValue(key) === true);
}

/** How long a health check waits for the database before calling it unavailable. */
const DATABASE_PROBE_TIMEOUT_MS = 2_000;

/** One cheap read: `ok`, or the store's code for what is wrong. */
async function probeDatabase(store: Store): Promise<string> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<string>((resolve) => {
    timer = setTimeout(() => resolve('UNAVAILABLE'), DATABASE_PROBE_TIMEOUT_MS);
  });
  const read = store.getUser('1').then(
    () => 'ok',
    (err: unknown) => (err instanceof StoreError ? err.code : 'UNAVAILABLE'),
  );
  try {
    return await Promise.race([read, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** OpenTelemetry's name for the database behind the store (db.system). */
function dbSystemOf(config: Config): string {
  return config.database.kind === 'postgres' ? 'postgresql' : 'sqlite';
}

export async function createServer(configured: Config, options: CreateServerOptions = {}): Promise<GuildhallServer> {
  const logger = options.logger ?? createLogger({ level: configured.logLevel });
  // First, so that a database that cannot be opened stops the start before anything else runs.
  const ownStore = options.store === undefined;
  const store =
    options.store ??
    (await openSqlStore(configured.database, {
      synchronous: configured.sqliteSynchronous,
      sqliteBinding: configured.sqliteBinding,
      onIdleError: (err) => logger.warn({ err }, 'database connection lost while idle; the pool reconnects on next use'),
    }));
  let config: Config;
  try {
    // Without GUILDHALL_TOKEN_SECRET, the secret lives in the database: tokens survive restarts,
    // and every server on one database accepts the others' tokens.
    config = configured.tokenSecretGenerated ? Object.freeze({ ...configured, tokenSecret: await store.setting('token_secret', configured.tokenSecret) }) : configured;
  } catch (err) {
    if (ownStore) await store.close();
    throw err;
  }

  const traceStore = new TraceStore({ maxTraces: config.traceStoreSize });
  const viewerProcessor = new CountingBatchSpanProcessor({ exporter: traceStore, scheduledDelayMillis: 200 });
  const tracingEnv = options.tracingEnv ?? process.env;
  // The viewer's store is for when spans have nowhere else to go: with a collector
  // configured it would double the per-span cost for a copy nobody needs (unless asked for).
  const viewerOn = config.traceViewer === 'on' || (config.traceViewer === 'auto' && !exportsSpans(parseTracingEnv(tracingEnv)));
  const tracing = startTracing({
    env: tracingEnv,
    // In a cluster every span names its node.
    ...(config.cluster === undefined ? {} : { serviceInstanceId: config.cluster.nodeId }),
    fanoutK: config.fanoutK,
    processors: viewerOn ? [viewerProcessor] : [],
    register: !contextManagerInstalled(),
  });
  const debug = new GuildDebugSampling(options.debugClock);
  tracing.sampler.wrapDelegate((root) => new DebugSampler({ debug: debug.sampling, delegate: root, exclude: isOperatorRequest }));

  const system = new ActorSystem({
    // Cluster mode: the node id is part of every address that crosses NATS.
    ...(config.cluster === undefined ? {} : { node: config.cluster.nodeId }),
    ...(options.clock === undefined ? {} : { clock: options.clock }),
    onError: (err, where, address) => logger.error({ err, where, actor: `${address.kind}:${address.id}` }, 'actor failed'),
  });
  const transport = new Transport(system, {
    tracer: tracing.tracer,
    sampler: tracing.sampler,
    enabled: tracing.enabled,
    debug: debug.sampling,
    contextManager: tracing.contextManager,
    // Tracing off: no tail capture either (and no clock reading per message for it).
    tail: {
      thresholdMs: tracing.enabled ? config.slowDeliveryMs : 0,
      maxPerSecond: config.slowDeliveryMaxPerS,
      deliveryRoots: config.slowDeliveryRoots,
      // A guild that cannot keep up shows itself even at a low root sampling rate.
      mailboxRoots: (actor) => (actor.kind === 'guild' ? { [ATTR_GUILD_ID]: actor.id.slice(GUILD_KEY_PREFIX.length) } : undefined),
    },
  });
  // The gateway is attached once the app is ready; metrics read it through this holder.
  const attached: { gateway?: GatewayServer } = {};
  const sessions = new SessionDirectory();
  const metrics = new ServerMetrics({
    system,
    tracing,
    traceStore,
    viewerExport: () => viewerProcessor.stats(),
    sessions: () => sessions.size,
    gateway: () => attached.gateway?.stats(),
    debugWindows: () => debug.list().length,
    tail: () => transport.tailStats,
  });
  const uninstallRelay = wireRelay(system, { metrics: metrics.actors, transport });
  const pubsub = new GuildPubSub(new LocalAdapter(system), metrics);
  const ids = store.ids;
  const writeMetrics: { commit?: StoreMetrics['commit'] } = {};
  const writes = new WriteBatcher({
    store,
    spans: new CommitSpans({ tracer: tracing.tracer, enabled: tracing.enabled, dbSystem: dbSystemOf(config) }),
    onCommit: (size, ms, ok) => writeMetrics.commit?.(size, ms, ok),
  });
  writeMetrics.commit = new StoreMetrics(metrics.registry, { queued: () => writes.queued, refused: () => writes.refused }).commit;

  const app = Fastify({
    loggerInstance: logger,
    bodyLimit: BODY_LIMIT_BYTES,
    // Behind a proxy, set PUBLIC_URL; client addresses from X-Forwarded-For are not trusted.
    trustProxy: false,
    return503OnClosing: true,
    // A request (headers and body) must arrive within requestTimeoutMs, or Node answers 408
    // and closes (issue 16: bodies announced and never sent held sockets for minutes).
    requestTimeout: config.requestTimeoutMs,
    http: {
      // Node checks headersTimeout <= requestTimeout when it creates the server, before
      // Fastify applies its own requestTimeout: without this, values over Node's default
      // requestTimeout (300 s) failed at start.
      requestTimeout: config.requestTimeoutMs,
      headersTimeout: config.requestTimeoutMs,
      // Node checks the timeouts above at this interval (30 s by default, too coarse for them).
      connectionsCheckingInterval: Math.min(1000, Math.max(50, Math.floor(config.requestTimeoutMs / 4))),
    },
    // Routes have a literal `@me` segment; discord-api-types' Routes helpers percent-encode an
    // explicit '@me' argument (Routes.user('@me') is /users/%40me), which Discord accepts too.
    rewriteUrl: (request) => (request.url ?? '/').replace(AT_ME_ENCODED, '/@me'),
    // Errors of the HTTP parser (431 headers too large, 408, 400) get Discord's body too.
    clientErrorHandler: handleClientError,
    // Errors Fastify raises before routing (a malformed URL) get the same Discord body as the rest.
    frameworkErrors: (err, _request, reply) => {
      sendHttpError(reply, toHttpError(err));
    },
  }) as unknown as FastifyInstance;

  let readiness: Readiness = 'starting';
  const boundPort = (): number => {
    const address = app.server.address();
    return address !== null && typeof address === 'object' ? address.port : config.port;
  };

  const ctx: ServerContext = {
    config,
    store,
    writes,
    clock: Date.now,
    system,
    transport,
    tracing,
    ids,
    sessions,
    pubsub,
    logger,
    metrics,
    debug,
    guild(guildId) {
      if (cluster !== undefined) return cluster.guild(guildId);
      const key = guildKey(guildId);
      return system.whereis<GuildProtocol>(key) ?? system.spawnOnce(key, guildBehaviour(ctx, guildId), { mailbox: GUILD_MAILBOX });
    },
    publicUrl: () => publicBaseUrl(config, boundPort()),
  };

  // Cluster mode: guilds live on their home node, which starts them on demand (server/cluster/).
  let cluster: ClusterMode | undefined;
  if (config.cluster !== undefined) {
    // Guilds watch subscribers on other nodes: a dead node's sessions are dropped.
    const guildDeps: GuildDeps = {
      ...ctx,
      monitorRemote: (ref, onDown) => (ref.address.node === system.node ? undefined : system.monitor(ref, onDown)),
    };
    const spawnGuild = (guildId: string, handoff: GuildHandoff | undefined) =>
      system.spawn(guildBehaviour(guildDeps, guildId, handoff === undefined ? undefined : guildStartOf(handoff, (a) => system.refFor(a))), {
        key: guildKey(guildId),
        mailbox: GUILD_MAILBOX,
      });
    try {
      cluster = await ClusterMode.start({ config: config.cluster, system, pubsub, sessions, tracer: tracing.tracer, logger, ids, spawnGuild });
    } catch (err) {
      await tracing.shutdown(config.shutdownTimeoutMs);
      if (ownStore) await store.close();
      throw err;
    }
    const running = cluster;
    registerClusterMetrics(metrics.registry, () => running.stats());
  }

  // Order matters: tracing first (so everything after runs in the span), error
  // handling before routes (it watches them to answer 405), then the routes.
  registerIngressTracing(app, tracing.tracer, tracing.enabled);
  let draining = false;
  app.addHook('onSend', (_request, reply, payload, done) => {
    if (draining) reply.header('connection', 'close');
    done(null, payload);
  });
  registerErrorHandling(app);
  registerJsonBody(app);
  registerDebugAccess(app, config, logger);
  metrics.registerHttp(app);
  healthRoutes(app, () => readiness, () => probeDatabase(store));
  metricsRoute(app, metrics);
  viewerRoutes(app, { traceStore, tracing, recording: tracing.enabled && viewerOn });
  samplingRoutes(app, ctx);
  actorRoutes(app, ctx);
  await registerApi(app, ctx, {
    global: options.rateLimiter ?? new RateLimiter({ perSecond: options.rateLimitPerSecond ?? config.rateLimitPerSecond }),
    routes: new RouteLimiter({ enabled: config.routeRateLimits, ...options.routeLimits }),
  });
  await app.ready();

  // Cluster mode: a RESUME for a session not running here asks the other live nodes (session-handoff.ts).
  const gw = attachGateway(app.server, ctx, { peers: () => cluster?.live().map((n) => n.id) ?? [] });
  attached.gateway = gw;

  let closing: Promise<void> | undefined;
  return {
    app,
    ctx,
    traceStore,
    metrics,
    gateway: gw,
    logger,
    cluster,
    async listen() {
      await app.listen({ host: config.host, port: config.port });
      const base = ctx.publicUrl();
      // Placeable only once it can serve: other nodes may send it guild calls from now on.
      await cluster?.join(base);
      readiness = 'ready';
      logger.info({ rest: `${base}${API_PREFIX}`, tracing: tracing.describe() }, 'guildhall listening');
      return base;
    },
    beginDrain() {
      draining = true;
      if (readiness === 'ready') readiness = 'draining';
    },
    close() {
      closing ??= (async () => {
        readiness = 'stopping';
        // Clients resume elsewhere (or here, after a restart) instead of re-identifying.
        gw.reconnectAll();
        // Stops accepting and waits for in-flight requests; upgraded sockets are the gateway's to end.
        const httpClosed = app.close();
        await gw.close();
        await httpClosed;
        // Guilds move to their next homes now (a clean stop), not when their leases expire.
        await cluster?.close();
        // Every write handed to the batcher is committed (or answered) before the store closes.
        await writes.drained();
        system.shutdown();
        uninstallRelay();
        metrics.close();
        await tracing.shutdown(config.shutdownTimeoutMs);
        if (ownStore) await store.close();
        logger.info('guildhall stopped');
      })();
      return closing;
    },
  };
}
