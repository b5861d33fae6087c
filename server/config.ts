// Server configuration: read once from the environment and the command line,
// validated with zod at this boundary, and handed around as a plain, typed,
// frozen object. Nothing else in the server reads process.env.
//
// Precedence: command-line flag > environment variable > default.
// Secrets have no flags on purpose: command lines are visible to every user
// of the machine (ps, /proc/<pid>/cmdline).
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import type { DatabaseTarget, SqliteSynchronous } from './store/database-target.js';
import type { GcSettings } from './gc-settings.js';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** Cluster mode (issue 14): on when GUILDHALL_NATS_URL is set. See docs/cluster.md. */
export interface ClusterConfig {
  /** nats:// URL(s) of the NATS server (JetStream on); may hold credentials: do not log it. */
  natsUrl: string;
  /** Prefix of subjects and KV buckets: two clusters may share one NATS. */
  name: string;
  /** This node's id (a NATS subject token): GUILDHALL_NODE_ID, or host and port of the public URL. */
  nodeId: string;
  /** A guild lease not renewed this long expires; the failover bound is this plus one renewal plus detection. */
  leaseTtlMs: number;
  /** A node's membership entry expires this long after its last heartbeat (sent every third of it). */
  nodeTtlMs: number;
  /** SIGTERM: how long a draining node waits for its sessions to resume elsewhere. */
  drainTimeoutMs: number;
}

export interface Config {
  host: string;
  /** 0 asks the OS for a free port (tests). */
  port: number;
  nodeEnv: string;
  /** Where the data lives, from DATABASE_URL. */
  database: DatabaseTarget;
  /** DATABASE_URL as given (may hold a password: do not log it). */
  databaseUrl: string;
  /** SQLite's `synchronous` (WAL mode): full (default) survives a power cut, normal a process crash. */
  sqliteSynchronous: SqliteSynchronous;
  /** A better_sqlite3.node built for this Node version (set by .ci/with-node); default the one in node_modules. */
  sqliteBinding: string | undefined;
  /** HMAC key for tokens. */
  tokenSecret: string;
  /**
   * True when GUILDHALL_TOKEN_SECRET was not set: `tokenSecret` is a random candidate, and the
   * server uses the secret stored in the database instead (the first server to start stores its own).
   */
  tokenSecretGenerated: boolean;
  adminSecret: string | undefined;
  /** Whether anyone may create accounts through the dev endpoint. */
  devAccounts: boolean;
  seed: boolean;
  /** Whether sessions may IDENTIFY with privileged intents (members, presences, message content); else 4014. */
  privilegedIntents: boolean;
  /** The built-in trace viewer's store: `auto` keeps traces only when they are not exported over OTLP. */
  traceViewer: 'auto' | 'on' | 'off';
  fanoutK: number;
  heartbeatIntervalMs: number;
  /** A socket that has not IDENTIFYd (or RESUMEd) this long after HELLO is closed with 4009. */
  identifyTimeoutMs: number;
  /** IDENTIFYs a user may start per 5 s per rate-limit key (shard_id % maxConcurrency); advertised in /gateway/bot. */
  maxConcurrency: number;
  /** A guild actor with no session and nothing pending this long stops (its state is in the database); 0: never. */
  guildIdleMs: number;
  resumeBuffer: number;
  resumeTimeoutMs: number;
  /** V8's garbage-collector settings made at start (server/gc-settings.ts). */
  gc: GcSettings;
  maxBufferedBytes: number;
  shutdownTimeoutMs: number;
  /** How long a request (headers and body) may take to arrive before it is answered 408 and closed. */
  requestTimeoutMs: number;
  /** REST requests per second per user, every route together (Discord's global limit). */
  rateLimitPerSecond: number;
  /** Whether per-route buckets (messages 5 per 5 s per channel, ...) apply; the global limit always does. */
  routeRateLimits: boolean;
  traceStoreSize: number;
  /** Tail capture: a delivery or guild message this slow (ms) is always traced; 0 turns it off. */
  slowDeliveryMs: number;
  /** Slow deliveries of unsampled broadcasts start their own root trace. */
  slowDeliveryRoots: boolean;
  /** Tail spans per second per process; the rest are only counted. */
  slowDeliveryMaxPerS: number;
  logLevel: LogLevel;
  /** As configured (no trailing slash); see `publicBaseUrl` for the effective one. */
  publicUrl: string | undefined;
  /** Cluster mode, or undefined for a single node (no GUILDHALL_NATS_URL). */
  cluster: ClusterConfig | undefined;
}

export interface ConfigIssue {
  /** Environment variable name, e.g. `PORT`, or the offending argument for CLI problems. */
  field: string;
  /** The flag for the field, when it has one. */
  flag?: string;
  problem: string;
  /** A stable code for a problem that is about how settings combine, not one value (e.g. CLUSTER_NEEDS_POSTGRES). */
  code?: string;
}

/** Stable codes of combined-settings problems (a ConfigIssue's `code`). */
export const ConfigIssueCode = {
  /** GUILDHALL_NATS_URL with a SQLite DATABASE_URL: nodes must share one PostgreSQL. */
  CLUSTER_NEEDS_POSTGRES: 'CLUSTER_NEEDS_POSTGRES',
  /** Cluster mode on PORT=0 without GUILDHALL_NODE_ID or PUBLIC_URL: the default node id is unknown. */
  CLUSTER_NODE_ID_UNKNOWN: 'CLUSTER_NODE_ID_UNKNOWN',
} as const;

export class ConfigError extends Error {
  readonly code = 'CONFIG_INVALID';
  readonly issues: readonly ConfigIssue[];

  constructor(issues: readonly ConfigIssue[]) {
    super(formatIssues(issues));
    this.name = 'ConfigError';
    this.issues = issues;
  }
}

// --- value parsers (strings in, typed values out) ---------------------------

const BOOLEAN_WORDS: Record<string, boolean> = { '1': true, true: true, yes: true, on: true, '0': false, false: false, no: false, off: false };

const bool = z
  .string()
  .transform((s, ctx) => {
    const value = BOOLEAN_WORDS[s.trim().toLowerCase()];
    if (value === undefined) {
      ctx.addIssue({ code: 'custom', message: 'must be one of true/false, 1/0, yes/no, on/off' });
      return z.NEVER;
    }
    return value;
  });

function int(min: number, max = Number.MAX_SAFE_INTEGER) {
  return z
    .string()
    .trim()
    .regex(/^\d+$/, 'must be a whole number')
    .transform(Number)
    .pipe(z.number().int().min(min, `must be at least ${min}`).max(max, `must be at most ${max}`));
}

const DEFAULT_DATABASE_URL = 'sqlite:./data/guildhall.db';

/** `sqlite:<path>`, `sqlite::memory:`, or a `postgres://` / `postgresql://` URL. */
const databaseUrl = z
  .string()
  .trim()
  .transform((s, ctx): DatabaseTarget => {
    if (s.startsWith('sqlite:')) {
      const path = s.slice('sqlite:'.length);
      if (path !== '') return { kind: 'sqlite', path };
    } else if (/^postgres(ql)?:\/\//.test(s) && URL.canParse(s)) {
      return { kind: 'postgres', url: s };
    }
    ctx.addIssue({ code: 'custom', message: 'must be sqlite:<path>, sqlite::memory: or a postgres:// URL' });
    return z.NEVER;
  });

const url = z
  .string()
  .trim()
  .refine((s) => URL.canParse(s) && /^https?:$/.test(new URL(s).protocol), 'must be an http(s) URL')
  .transform((s) => s.replace(/\/+$/, ''));

/** One or more comma-separated nats:// (or tls://) URLs, as the NATS client takes them. */
const natsUrl = z
  .string()
  .trim()
  .refine(
    (s) => s.split(',').every((u) => URL.canParse(u.trim()) && /^(nats|tls|wss?):$/.test(new URL(u.trim()).protocol)),
    'must be a nats:// URL (or several, comma-separated)',
  );

/** A NATS subject token (and KV key part): node ids and the cluster name. */
const token = z.string().trim().regex(/^[A-Za-z0-9_-]+$/, "must be letters, digits, '-' or '_'").max(64, 'must be at most 64 characters');

// --- the fields ---------------------------------------------------------------

interface FieldSpec {
  env: string;
  /** Without the leading dashes. Absent for secrets. */
  flag?: string;
  /** A flag that may be given without a value (`--seed` means true, `--no-seed` false). */
  boolean?: boolean;
}

const FIELDS = {
  host: { env: 'HOST', flag: 'host' },
  port: { env: 'PORT', flag: 'port' },
  nodeEnv: { env: 'NODE_ENV' },
  // No flag: a PostgreSQL URL may hold a password.
  database: { env: 'DATABASE_URL' },
  sqliteSynchronous: { env: 'GUILDHALL_SQLITE_SYNCHRONOUS', flag: 'sqlite-synchronous' },
  sqliteBinding: { env: 'GUILDHALL_SQLITE_BINDING' },
  tokenSecret: { env: 'GUILDHALL_TOKEN_SECRET' },
  adminSecret: { env: 'GUILDHALL_ADMIN_SECRET' },
  devAccounts: { env: 'GUILDHALL_DEV_ACCOUNTS', flag: 'dev-accounts', boolean: true },
  seed: { env: 'GUILDHALL_SEED', flag: 'seed', boolean: true },
  privilegedIntents: { env: 'GUILDHALL_PRIVILEGED_INTENTS', flag: 'privileged-intents', boolean: true },
  traceViewer: { env: 'GUILDHALL_TRACE_VIEWER', flag: 'trace-viewer' },
  fanoutK: { env: 'GUILDHALL_FANOUT_K', flag: 'fanout-k' },
  heartbeatIntervalMs: { env: 'GUILDHALL_HEARTBEAT_INTERVAL_MS', flag: 'heartbeat-interval-ms' },
  identifyTimeoutMs: { env: 'GUILDHALL_IDENTIFY_TIMEOUT_MS', flag: 'identify-timeout-ms' },
  guildIdleMs: { env: 'GUILDHALL_GUILD_IDLE_MS', flag: 'guild-idle-ms' },
  maxConcurrency: { env: 'GUILDHALL_MAX_CONCURRENCY', flag: 'max-concurrency' },
  resumeBuffer: { env: 'GUILDHALL_RESUME_BUFFER', flag: 'resume-buffer' },
  resumeTimeoutMs: { env: 'GUILDHALL_RESUME_TIMEOUT_MS', flag: 'resume-timeout-ms' },
  heapGrowthPercent: { env: 'GUILDHALL_HEAP_GROWTH_PERCENT', flag: 'heap-growth-percent' },
  pretenuring: { env: 'GUILDHALL_PRETENURING', flag: 'pretenuring', boolean: true },
  gcHelperNice: { env: 'GUILDHALL_GC_HELPER_NICE', flag: 'gc-helper-nice' },
  maxBufferedBytes: { env: 'GUILDHALL_MAX_BUFFERED_BYTES', flag: 'max-buffered-bytes' },
  shutdownTimeoutMs: { env: 'GUILDHALL_SHUTDOWN_TIMEOUT_MS', flag: 'shutdown-timeout-ms' },
  requestTimeoutMs: { env: 'GUILDHALL_REQUEST_TIMEOUT_MS', flag: 'request-timeout-ms' },
  rateLimitPerSecond: { env: 'GUILDHALL_RATE_LIMIT_PER_SECOND', flag: 'rate-limit-per-second' },
  routeRateLimits: { env: 'GUILDHALL_ROUTE_RATE_LIMITS', flag: 'route-rate-limits', boolean: true },
  traceStoreSize: { env: 'GUILDHALL_TRACE_STORE_SIZE', flag: 'trace-store-size' },
  slowDeliveryMs: { env: 'GUILDHALL_SLOW_DELIVERY_MS', flag: 'slow-delivery-ms' },
  slowDeliveryRoots: { env: 'GUILDHALL_SLOW_DELIVERY_ROOTS', flag: 'slow-delivery-roots', boolean: true },
  slowDeliveryMaxPerS: { env: 'GUILDHALL_SLOW_DELIVERY_MAX_PER_S', flag: 'slow-delivery-max-per-s' },
  logLevel: { env: 'LOG_LEVEL', flag: 'log-level' },
  publicUrl: { env: 'PUBLIC_URL', flag: 'public-url' },
  natsUrl: { env: 'GUILDHALL_NATS_URL', flag: 'nats' },
  clusterName: { env: 'GUILDHALL_CLUSTER', flag: 'cluster' },
  nodeId: { env: 'GUILDHALL_NODE_ID', flag: 'node-id' },
  leaseTtlMs: { env: 'GUILDHALL_LEASE_TTL_MS', flag: 'lease-ttl-ms' },
  nodeTtlMs: { env: 'GUILDHALL_NODE_TTL_MS', flag: 'node-ttl-ms' },
  drainTimeoutMs: { env: 'GUILDHALL_DRAIN_TIMEOUT_MS', flag: 'drain-timeout-ms' },
} as const satisfies Record<string, FieldSpec>;

type FieldName = keyof typeof FIELDS;

const schema = z.object({
  host: z.string().trim().min(1, 'must not be empty').default('127.0.0.1'),
  port: int(0, 65535).default(8080),
  nodeEnv: z.string().trim().default('development'),
  // prefault: the default goes through the parser like a configured value.
  database: databaseUrl.prefault(DEFAULT_DATABASE_URL),
  sqliteSynchronous: z.string().trim().toLowerCase().pipe(z.enum(['full', 'normal', 'off'], { error: 'must be one of full, normal, off' })).default('full'),
  sqliteBinding: z.string().trim().regex(/\.node$/, 'must be the path of a .node file').optional(),
  // HMAC-SHA256 keys shorter than this are guessable; 16 characters is a floor, 32+ random bytes is better.
  tokenSecret: z.string().min(16, 'must be at least 16 characters').optional(),
  adminSecret: z.string().min(16, 'must be at least 16 characters').optional(),
  devAccounts: bool.optional(),
  seed: bool.default(true),
  privilegedIntents: bool.default(true),
  traceViewer: z.string().trim().toLowerCase().pipe(z.enum(['auto', 'on', 'off'], { error: 'must be one of auto, on, off' })).default('auto'),
  fanoutK: int(1).default(10),
  // Discord's own interval; floor of 1s keeps a typo from flooding every client with heartbeats.
  heartbeatIntervalMs: int(1000).default(41250),
  // Clients IDENTIFY right after HELLO; 30 s covers a slow network many times over
  // and keeps a socket that never authenticates from being held for long.
  identifyTimeoutMs: int(1000).default(30_000),
  // Discord gives small bots 1 and large ones 16 or more; 16 lets a user open a few
  // sessions (devices, tests) at once. Load tools with hundreds of sessions per user raise it.
  maxConcurrency: int(1, 1_000_000).default(16),
  // Every guild ever touched would otherwise stay in memory; reloading one costs a few queries.
  guildIdleMs: int(0).default(60_000),
  resumeBuffer: int(0).default(1000),
  resumeTimeoutMs: int(0).default(60000),
  // Up to twice the live heap between major collections, and no pretenuring: far fewer of them (server/gc-settings.ts).
  heapGrowthPercent: int(0, 400).default(100),
  pretenuring: bool.default(false),
  // V8's marking threads yield to the event loop (server/gc-helper-priority.ts).
  gcHelperNice: int(0, 19).default(19),
  maxBufferedBytes: int(1024).default(1024 * 1024),
  shutdownTimeoutMs: int(0).default(5000),
  // A 64 KiB body takes well under a second on any link a chat client uses; 10 s leaves room
  // for a bad mobile one while a client that trickles bytes (or never finishes) is cut off.
  requestTimeoutMs: int(100).default(10_000),
  rateLimitPerSecond: int(1).default(50),
  routeRateLimits: bool.default(true),
  traceStoreSize: int(1).default(1000),
  slowDeliveryMs: int(0, 3_600_000).default(100),
  slowDeliveryRoots: bool.default(false),
  slowDeliveryMaxPerS: int(0, 1_000_000).default(100),
  logLevel: z.string().trim().toLowerCase().pipe(z.enum(LOG_LEVELS, { error: `must be one of ${LOG_LEVELS.join(', ')}` })).default('info'),
  publicUrl: url.optional(),
  natsUrl: natsUrl.optional(),
  clusterName: token.default('guildhall'),
  nodeId: token.optional(),
  // Below a second a renewal round trip under load may not fit in the margin.
  leaseTtlMs: int(1000, 3_600_000).default(6000),
  nodeTtlMs: int(300, 3_600_000).default(3000),
  drainTimeoutMs: int(0, 3_600_000).default(30_000),
});

// --- command line -------------------------------------------------------------

const BY_FLAG = new Map<string, FieldName>(
  (Object.entries(FIELDS) as [FieldName, FieldSpec][]).flatMap(([name, spec]) => (spec.flag ? [[spec.flag, name]] : [])),
);

function parseArgv(argv: readonly string[], raw: Partial<Record<FieldName, string>>, issues: ConfigIssue[]): void {
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const m = /^--([a-z0-9-]+)(?:=(.*))?$/s.exec(arg);
    if (!m) {
      issues.push({ field: arg, problem: 'unexpected argument (flags look like --name value or --name=value)' });
      continue;
    }
    let flag = m[1]!;
    let value = m[2];
    let name = BY_FLAG.get(flag);
    if (name === undefined && flag.startsWith('no-') && value === undefined) {
      const positive = BY_FLAG.get(flag.slice(3));
      if (positive !== undefined && (FIELDS[positive] as FieldSpec).boolean) {
        name = positive;
        flag = flag.slice(3);
        value = 'false';
      }
    }
    if (name === undefined) {
      issues.push({ field: `--${flag}`, problem: 'unknown flag' });
      continue;
    }
    if (value === undefined) {
      const following = argv[i + 1];
      if ((FIELDS[name] as FieldSpec).boolean) {
        // `--seed` alone is true; `--seed false` is also accepted when the next word is a boolean word.
        if (following !== undefined && following.toLowerCase() in BOOLEAN_WORDS) {
          value = following;
          i++;
        } else {
          value = 'true';
        }
      } else if (following === undefined || following.startsWith('--')) {
        issues.push({ field: FIELDS[name].env, flag: `--${flag}`, problem: 'needs a value' });
        continue;
      } else {
        value = following;
        i++;
      }
    }
    raw[name] = value;
  }
}

// --- loading ------------------------------------------------------------------

/**
 * Reads and validates the configuration. `argv` is the arguments after the
 * script (`process.argv.slice(2)`). Throws a ConfigError listing every
 * problem at once, so a bad deploy is fixed in one round.
 */
export function loadConfig(env: Readonly<Record<string, string | undefined>>, argv: readonly string[] = []): Config {
  const raw: Partial<Record<FieldName, string>> = {};
  for (const [name, spec] of Object.entries(FIELDS) as [FieldName, FieldSpec][]) {
    const value = env[spec.env];
    // An empty variable (`FOO=` in a compose file) means "not set", not "empty string".
    if (value !== undefined && value !== '') raw[name] = value;
  }
  const issues: ConfigIssue[] = [];
  parseArgv(argv, raw, issues);

  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const name = issue.path[0] as FieldName;
      const spec: FieldSpec = FIELDS[name];
      issues.push({ field: spec.env, ...(spec.flag ? { flag: `--${spec.flag}` } : {}), problem: issue.message });
    }
  }
  if (issues.length > 0 || !parsed.success) throw new ConfigError(issues);

  const v = parsed.data;
  if (v.natsUrl !== undefined) issues.push(...clusterIssues(v));
  if (issues.length > 0) throw new ConfigError(issues);
  // Dev accounts let anyone mint a user and a token. Fine on a laptop; in
  // production only when an admin secret guards them. An explicit setting wins.
  const devAccounts = v.devAccounts ?? !(v.nodeEnv === 'production' && v.adminSecret === undefined);
  const config: Config = {
    host: v.host,
    port: v.port,
    nodeEnv: v.nodeEnv,
    database: v.database,
    databaseUrl: raw.database?.trim() ?? DEFAULT_DATABASE_URL,
    sqliteSynchronous: v.sqliteSynchronous,
    sqliteBinding: v.sqliteBinding,
    tokenSecret: v.tokenSecret ?? randomBytes(32).toString('base64url'),
    tokenSecretGenerated: v.tokenSecret === undefined,
    adminSecret: v.adminSecret,
    devAccounts,
    seed: v.seed,
    privilegedIntents: v.privilegedIntents,
    traceViewer: v.traceViewer,
    fanoutK: v.fanoutK,
    heartbeatIntervalMs: v.heartbeatIntervalMs,
    identifyTimeoutMs: v.identifyTimeoutMs,
    guildIdleMs: v.guildIdleMs,
    maxConcurrency: v.maxConcurrency,
    resumeBuffer: v.resumeBuffer,
    resumeTimeoutMs: v.resumeTimeoutMs,
    gc: { heapGrowthPercent: v.heapGrowthPercent, pretenuring: v.pretenuring, helperNice: v.gcHelperNice },
    maxBufferedBytes: v.maxBufferedBytes,
    shutdownTimeoutMs: v.shutdownTimeoutMs,
    requestTimeoutMs: v.requestTimeoutMs,
    rateLimitPerSecond: v.rateLimitPerSecond,
    routeRateLimits: v.routeRateLimits,
    traceStoreSize: v.traceStoreSize,
    slowDeliveryMs: v.slowDeliveryMs,
    slowDeliveryRoots: v.slowDeliveryRoots,
    slowDeliveryMaxPerS: v.slowDeliveryMaxPerS,
    logLevel: v.logLevel,
    publicUrl: v.publicUrl,
    cluster: clusterConfig(v, raw.natsUrl?.trim()),
  };
  return Object.freeze(config);
}

type Parsed = z.infer<typeof schema>;

function clusterIssues(v: Parsed): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  if (v.database.kind !== 'postgres') {
    issues.push({
      field: FIELDS.natsUrl.env,
      flag: `--${FIELDS.natsUrl.flag}`,
      code: ConfigIssueCode.CLUSTER_NEEDS_POSTGRES,
      problem: 'cluster mode needs PostgreSQL shared by every node (DATABASE_URL=postgres://...), not SQLite',
    });
  }
  if (v.nodeId === undefined && v.publicUrl === undefined && v.port === 0) {
    issues.push({
      field: FIELDS.nodeId.env,
      flag: `--${FIELDS.nodeId.flag}`,
      code: ConfigIssueCode.CLUSTER_NODE_ID_UNKNOWN,
      problem: 'cluster mode on PORT=0 needs GUILDHALL_NODE_ID (or PUBLIC_URL): the default id is the public host and port',
    });
  }
  return issues;
}

/** The default node id: host and port of the public URL, as a subject token (`127.0.0.1:8080` -> `127-0-0-1-8080`). */
export function defaultNodeId(config: Pick<Config, 'host' | 'port' | 'publicUrl'>): string {
  const u = new URL(publicBaseUrl(config));
  const port = u.port === '' ? (u.protocol === 'https:' ? '443' : '80') : u.port;
  return `${u.hostname}-${port}`.replace(/[^A-Za-z0-9_-]+/g, '-').replace(/^-+|-+$/g, '');
}

function clusterConfig(v: Parsed, natsUrl: string | undefined): ClusterConfig | undefined {
  if (natsUrl === undefined) return undefined;
  return {
    natsUrl,
    name: v.clusterName,
    nodeId: v.nodeId ?? defaultNodeId({ host: v.host, port: v.port, publicUrl: v.publicUrl }),
    leaseTtlMs: v.leaseTtlMs,
    nodeTtlMs: v.nodeTtlMs,
    drainTimeoutMs: v.drainTimeoutMs,
  };
}

/**
 * The base URL clients should use. PUBLIC_URL when set; otherwise derived from
 * the host and the port actually bound (which differs from `config.port` when
 * that is 0). A wildcard bind address is not something a client can dial, so
 * it becomes loopback.
 */
export function publicBaseUrl(config: Pick<Config, 'host' | 'port' | 'publicUrl'>, boundPort: number = config.port): string {
  if (config.publicUrl !== undefined) return config.publicUrl;
  let host = config.host;
  if (host === '0.0.0.0') host = '127.0.0.1';
  else if (host === '::' || host === '[::]') host = '[::1]';
  else if (host.includes(':') && !host.startsWith('[')) host = `[${host}]`;
  return `http://${host}:${boundPort}`;
}

function formatIssues(issues: readonly ConfigIssue[]): string {
  const lines = issues.map((i) => `  - ${i.field}${i.flag ? ` (${i.flag})` : ''}: ${i.code ? `[${i.code}] ` : ''}${i.problem}`);
  return `Invalid configuration:\n${lines.join('\n')}`;
}

/** Text for the operator; main prints it to stderr and exits with status 2. */
export function formatConfigError(error: ConfigError): string {
  return formatIssues(error.issues);
}
