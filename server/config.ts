// Server configuration: read once from the environment and the command line,
// validated with zod at this boundary, and handed around as a plain, typed,
// frozen object. Nothing else in the server reads process.env.
//
// Precedence: command-line flag > environment variable > default.
// Secrets have no flags on purpose: command lines are visible to every user
// of the machine (ps, /proc/<pid>/cmdline).
import { randomBytes } from 'node:crypto';
import { z } from 'zod';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface Config {
  host: string;
  /** 0 asks the OS for a free port (tests). */
  port: number;
  nodeEnv: string;
  /** HMAC key for tokens. */
  tokenSecret: string;
  /** True when no secret was configured and a random one was made: tokens die with the process. */
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
  resumeBuffer: number;
  resumeTimeoutMs: number;
  maxBufferedBytes: number;
  shutdownTimeoutMs: number;
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
}

export interface ConfigIssue {
  /** Environment variable name, e.g. `PORT`, or the offending argument for CLI problems. */
  field: string;
  /** The flag for the field, when it has one. */
  flag?: string;
  problem: string;
}

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

const url = z
  .string()
  .trim()
  .refine((s) => URL.canParse(s) && /^https?:$/.test(new URL(s).protocol), 'must be an http(s) URL')
  .transform((s) => s.replace(/\/+$/, ''));

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
  tokenSecret: { env: 'GUILDHALL_TOKEN_SECRET' },
  adminSecret: { env: 'GUILDHALL_ADMIN_SECRET' },
  devAccounts: { env: 'GUILDHALL_DEV_ACCOUNTS', flag: 'dev-accounts', boolean: true },
  seed: { env: 'GUILDHALL_SEED', flag: 'seed', boolean: true },
  privilegedIntents: { env: 'GUILDHALL_PRIVILEGED_INTENTS', flag: 'privileged-intents', boolean: true },
  traceViewer: { env: 'GUILDHALL_TRACE_VIEWER', flag: 'trace-viewer' },
  fanoutK: { env: 'GUILDHALL_FANOUT_K', flag: 'fanout-k' },
  heartbeatIntervalMs: { env: 'GUILDHALL_HEARTBEAT_INTERVAL_MS', flag: 'heartbeat-interval-ms' },
  resumeBuffer: { env: 'GUILDHALL_RESUME_BUFFER', flag: 'resume-buffer' },
  resumeTimeoutMs: { env: 'GUILDHALL_RESUME_TIMEOUT_MS', flag: 'resume-timeout-ms' },
  maxBufferedBytes: { env: 'GUILDHALL_MAX_BUFFERED_BYTES', flag: 'max-buffered-bytes' },
  shutdownTimeoutMs: { env: 'GUILDHALL_SHUTDOWN_TIMEOUT_MS', flag: 'shutdown-timeout-ms' },
  traceStoreSize: { env: 'GUILDHALL_TRACE_STORE_SIZE', flag: 'trace-store-size' },
  slowDeliveryMs: { env: 'GUILDHALL_SLOW_DELIVERY_MS', flag: 'slow-delivery-ms' },
  slowDeliveryRoots: { env: 'GUILDHALL_SLOW_DELIVERY_ROOTS', flag: 'slow-delivery-roots', boolean: true },
  slowDeliveryMaxPerS: { env: 'GUILDHALL_SLOW_DELIVERY_MAX_PER_S', flag: 'slow-delivery-max-per-s' },
  logLevel: { env: 'LOG_LEVEL', flag: 'log-level' },
  publicUrl: { env: 'PUBLIC_URL', flag: 'public-url' },
} as const satisfies Record<string, FieldSpec>;

type FieldName = keyof typeof FIELDS;

const schema = z.object({
  host: z.string().trim().min(1, 'must not be empty').default('127.0.0.1'),
  port: int(0, 65535).default(8080),
  nodeEnv: z.string().trim().default('development'),
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
  resumeBuffer: int(0).default(1000),
  resumeTimeoutMs: int(0).default(60000),
  maxBufferedBytes: int(1024).default(1024 * 1024),
  shutdownTimeoutMs: int(0).default(5000),
  traceStoreSize: int(1).default(1000),
  slowDeliveryMs: int(0, 3_600_000).default(100),
  slowDeliveryRoots: bool.default(false),
  slowDeliveryMaxPerS: int(0, 1_000_000).default(100),
  logLevel: z.string().trim().toLowerCase().pipe(z.enum(LOG_LEVELS, { error: `must be one of ${LOG_LEVELS.join(', ')}` })).default('info'),
  publicUrl: url.optional(),
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
  // Dev accounts let anyone mint a user and a token. Fine on a laptop; in
  // production only when an admin secret guards them. An explicit setting wins.
  const devAccounts = v.devAccounts ?? !(v.nodeEnv === 'production' && v.adminSecret === undefined);
  const config: Config = {
    host: v.host,
    port: v.port,
    nodeEnv: v.nodeEnv,
    tokenSecret: v.tokenSecret ?? randomBytes(32).toString('base64url'),
    tokenSecretGenerated: v.tokenSecret === undefined,
    adminSecret: v.adminSecret,
    devAccounts,
    seed: v.seed,
    privilegedIntents: v.privilegedIntents,
    traceViewer: v.traceViewer,
    fanoutK: v.fanoutK,
    heartbeatIntervalMs: v.heartbeatIntervalMs,
    resumeBuffer: v.resumeBuffer,
    resumeTimeoutMs: v.resumeTimeoutMs,
    maxBufferedBytes: v.maxBufferedBytes,
    shutdownTimeoutMs: v.shutdownTimeoutMs,
    traceStoreSize: v.traceStoreSize,
    slowDeliveryMs: v.slowDeliveryMs,
    slowDeliveryRoots: v.slowDeliveryRoots,
    slowDeliveryMaxPerS: v.slowDeliveryMaxPerS,
    logLevel: v.logLevel,
    publicUrl: v.publicUrl,
  };
  return Object.freeze(config);
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
  const lines = issues.map((i) => `  - ${i.field}${i.flag ? ` (${i.flag})` : ''}: ${i.problem}`);
  return `Invalid configuration:\n${lines.join('\n')}`;
}

/** Text for the operator; main prints it to stderr and exits with status 2. */
export function formatConfigError(error: ConfigError): string {
  return formatIssues(error.issues);
}
