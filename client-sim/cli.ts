// The command line: `client-sim <scenario> [--flag value ...]`. Every flag is
// read and validated here, once, with zod; the rest of the tool gets a typed,
// complete SimOptions. Bad input throws CliError (main prints it, exits 2).
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { type Assertion, AssertionSyntaxError, parseAssertion } from './assertions.js';

export const SCENARIOS = ['chat', 'broadcast', 'hot-guild', 'connect-storm', 'resume-storm', 'presence', 'rolling-restart', 'node-kill'] as const;
/** Scenarios that restart or kill nodes: they need the nodes started by client-sim (--spawn-cluster). */
export const CLUSTER_SCENARIOS: readonly ScenarioName[] = ['rolling-restart', 'node-kill'];
export type ScenarioName = (typeof SCENARIOS)[number];

export interface SimOptions {
  scenario: ScenarioName;
  /**
   * Base URL of every node, without a trailing slash, e.g. [http://127.0.0.1:8080]. Sessions and
   * REST calls are spread over them round-robin. Empty until the cluster is up with --spawn-cluster.
   */
  urls: string[];
  /** Nodes client-sim starts itself (local-cluster.ts) and stops at the end; 0: use --url. */
  spawnCluster: number;
  /** First port of the spawned nodes (consecutive); 0: free ports picked by the OS. */
  basePort: number;
  /** NATS and PostgreSQL of the spawned nodes (GUILDHALL_NATS_URL, DATABASE_URL). */
  natsUrl: string;
  databaseUrl: string;
  /** node-kill: seconds the killed node stays down before it is started again (as a supervisor would). */
  down: number;
  sessions: number;
  guilds: number;
  /** Events per second; what an event is depends on the scenario (messages, identifies, presence updates). */
  rate: number;
  /** Seconds the load phase lasts at most. */
  duration: number;
  /** Tracked events to send (messages or presence updates); default rate x duration. */
  messages: number;
  seed: number;
  /** Distinct users; sessions are spread over them. */
  users: number;
  /** IDENTIFYs per second while connecting the world (connect-storm uses --rate). */
  connectRate: number;
  /** Worker threads holding sessions; 0 keeps them on the main thread. */
  workers: number;
  /** resume-storm: the share of connections cut in each wave. */
  cut: number;
  /** Hard cap on the whole run, seconds: past it the run stops and reports. */
  timeout: number;
  json: string | undefined;
  assertions: Assertion[];
  /** Progress output: auto (live line on a TTY, periodic lines otherwise) or off. */
  progress: 'auto' | 'off';
}

export class CliError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CliError';
  }
}

export const USAGE = `usage: client-sim <scenario> [options]

scenarios:
  chat           many guilds, sessions spread over them, messages at --rate per second in total
  broadcast      one guild of --sessions sessions, --messages messages: fanout latency and throughput
  hot-guild      one guild flooded (messages + presence) while sessions keep identifying into it and quiet guilds
  connect-storm  --sessions IDENTIFYs at --rate per second: connect, READY and GUILD_CREATE latency
  resume-storm   cut --cut of the connections mid-run (twice), RESUME them; proves nothing lost or duplicated
  presence       presence updates at --rate per second fanned out to large guilds
  rolling-restart  (cluster) SIGTERM each node in turn, wait until it has exited and is back, while
                 chatting and broadcasting; passes only with 0 lost, 0 duplicated, 0 out of order
                 over the gateway, per session (no INVALID_SESSION, nothing needed from history)
  node-kill      (cluster) kill -9 one node mid-load, start it again after --down; every acknowledged
                 message must reach each member once, over the gateway or, for sessions that had to
                 IDENTIFY again, through REST history

options:
  --url <urls>         server base URL, or a comma-separated list of cluster nodes: sessions and REST
                       calls are spread over them (default http://127.0.0.1:8080)
  --spawn-cluster <n>  start n local nodes (npm run cluster's code) for this run, stop them after;
                       required by rolling-restart and node-kill, which restart and kill them
  --base-port <port>   first port of the spawned nodes (default 0: free ports)
  --down <t>           node-kill: how long the killed node stays down (default 12s: past the lease expiry)
  --sessions <n>       gateway sessions (default per scenario)
  --guilds <n>         guilds (default per scenario)
  --users <n>          distinct users the sessions belong to (default: one per session, at most 1000 per guild)
  --rate <n>           events per second (messages, identifies or presence updates; see above)
  --duration <t>       load phase length: 30, 30s, 1500ms, 2m (default per scenario)
  --messages <n>       tracked events to send (default rate x duration)
  --connect-rate <n>   IDENTIFYs per second while connecting (default 500)
  --workers <n>        worker threads holding sessions (default: 0 below 2,000 sessions, else 1 per 2,500)
  --cut <share>        resume-storm: share of connections cut per wave, 0..1 (default 0.5)
  --seed <n>           seed for the world plan and senders (default 1)
  --timeout <t>        hard cap for the whole run (default: generous, derived from the load)
  --json <file>        also write the summary as JSON
  --assert <expr>      repeatable; e.g. 'fanout_p99<250ms' 'lost==0'; a failed assertion exits 1
  --no-progress        no progress output
  -h, --help           this text

spawned nodes use GUILDHALL_NATS_URL (default nats://127.0.0.1:4222) and DATABASE_URL (default
postgres://postgres@127.0.0.1:5432/guildhall_cluster, created if missing), a cluster name of their own.

exit status: 0 passed, 1 failed (loss, duplicates, errors, or an assertion), 2 bad usage`;

interface Defaults {
  sessions: number;
  guilds: number;
  rate: number;
  duration: number;
}

const DEFAULTS: Record<ScenarioName, Defaults> = {
  chat: { sessions: 200, guilds: 20, rate: 50, duration: 10 },
  broadcast: { sessions: 100, guilds: 1, rate: 10, duration: 2 },
  'hot-guild': { sessions: 200, guilds: 5, rate: 50, duration: 10 },
  'connect-storm': { sessions: 500, guilds: 5, rate: 200, duration: 0 },
  'resume-storm': { sessions: 200, guilds: 5, rate: 20, duration: 10 },
  presence: { sessions: 200, guilds: 2, rate: 20, duration: 10 },
  'rolling-restart': { sessions: 300, guilds: 10, rate: 20, duration: 0 },
  'node-kill': { sessions: 300, guilds: 10, rate: 20, duration: 30 },
};

/** The most users one guild gets by default: the owner adds members at 50 requests/s (Discord's global limit). */
const DEFAULT_USERS_PER_GUILD = 1000;

function count(name: string, min: number, max: number) {
  return z
    .string()
    .trim()
    .regex(/^\d+$/, `--${name} must be a whole number`)
    .transform(Number)
    .pipe(z.number().int().min(min, `--${name} must be at least ${min}`).max(max, `--${name} must be at most ${max}`));
}

function positive(name: string, max: number) {
  return z
    .string()
    .trim()
    .regex(/^\d+(\.\d+)?$/, `--${name} must be a positive number`)
    .transform(Number)
    .pipe(z.number().gt(0, `--${name} must be above 0`).max(max, `--${name} must be at most ${max}`));
}

/** Seconds from `30`, `30s`, `1500ms`, `2m`. */
function duration(name: string) {
  return z
    .string()
    .trim()
    .transform((s, ctx) => {
      const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(s);
      if (!m) {
        ctx.addIssue({ code: 'custom', message: `--${name} must be a duration like 30, 30s, 1500ms or 2m` });
        return z.NEVER;
      }
      const factor = m[2] === 'ms' ? 0.001 : m[2] === 'm' ? 60 : 1;
      return Number(m[1]) * factor;
    })
    .pipe(z.number().min(0).max(24 * 3600, `--${name} must be at most 24h`));
}

const oneUrl = z
  .string()
  .trim()
  .refine((s) => URL.canParse(s) && /^https?:$/.test(new URL(s).protocol), '--url must be an http(s) URL (or a comma-separated list of them)')
  .transform((s) => s.replace(/\/+$/, ''));

/** One URL or a comma-separated list of them (the nodes of a cluster), without repeats. */
export const urlList = z
  .string()
  .transform((s) => s.split(',').map((u) => u.trim()))
  .pipe(z.array(oneUrl).min(1).max(64, '--url: at most 64 nodes'))
  .refine((us) => new Set(us).size === us.length, '--url lists a node twice');

/** GUILDHALL_NATS_URL and DATABASE_URL for spawned nodes, validated as the server would. */
export const clusterEnvSchema = z.object({
  GUILDHALL_NATS_URL: z
    .string()
    .trim()
    .refine((s) => s.split(',').every((u) => URL.canParse(u.trim()) && /^(nats|tls|wss?):$/.test(new URL(u.trim()).protocol)), 'GUILDHALL_NATS_URL must be nats:// URLs')
    .default('nats://127.0.0.1:4222'),
  DATABASE_URL: z
    .string()
    .trim()
    .refine((s) => /^postgres(ql)?:\/\//.test(s) && URL.canParse(s), 'DATABASE_URL must be a postgres:// URL (cluster mode needs PostgreSQL)')
    .default('postgres://postgres@127.0.0.1:5432/guildhall_cluster'),
});

const flagSchema = z.object({
  url: urlList.optional(),
  'spawn-cluster': count('spawn-cluster', 1, 16).optional(),
  'base-port': count('base-port', 0, 65_000).optional(),
  down: duration('down').optional(),
  sessions: count('sessions', 1, 100_000).optional(),
  guilds: count('guilds', 1, 10_000).optional(),
  users: count('users', 1, 100_000).optional(),
  rate: positive('rate', 1_000_000).optional(),
  duration: duration('duration').optional(),
  messages: count('messages', 0, 10_000_000).optional(),
  'connect-rate': positive('connect-rate', 1_000_000).optional(),
  workers: count('workers', 0, 64).optional(),
  cut: z
    .string()
    .trim()
    .regex(/^(0(\.\d+)?|1(\.0+)?)$/, '--cut must be a share between 0 and 1')
    .transform(Number)
    .optional(),
  seed: count('seed', 0, 2 ** 32 - 1).optional(),
  timeout: duration('timeout').optional(),
  json: z.string().min(1, '--json needs a file name').optional(),
});

/** Parses `argv` (the arguments after the script); `env` gives the spawned nodes' NATS and PostgreSQL. Throws CliError; returns undefined for --help. */
export function parseCli(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): SimOptions | undefined {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      strict: true,
      options: {
        url: { type: 'string' },
        'spawn-cluster': { type: 'string' },
        'base-port': { type: 'string' },
        down: { type: 'string' },
        sessions: { type: 'string' },
        guilds: { type: 'string' },
        users: { type: 'string' },
        rate: { type: 'string' },
        duration: { type: 'string' },
        messages: { type: 'string' },
        'connect-rate': { type: 'string' },
        workers: { type: 'string' },
        cut: { type: 'string' },
        seed: { type: 'string' },
        timeout: { type: 'string' },
        json: { type: 'string' },
        assert: { type: 'string', multiple: true },
        'no-progress': { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (err) {
    throw new CliError((err as Error).message);
  }
  const { values, positionals } = parsed;
  if (values.help) return undefined;
  if (positionals.length !== 1) throw new CliError(positionals.length === 0 ? 'a scenario is required' : `one scenario only, got: ${positionals.join(' ')}`);
  const scenario = positionals[0]!;
  if (!(SCENARIOS as readonly string[]).includes(scenario)) throw new CliError(`unknown scenario "${scenario}" (one of ${SCENARIOS.join(', ')})`);

  const { assert: assertTexts, 'no-progress': noProgress, help: _help, ...flags } = values;
  const result = flagSchema.safeParse(flags);
  if (!result.success) throw new CliError(result.error.issues.map((i) => i.message).join('\n'));
  const f = result.data;

  const assertions: Assertion[] = [];
  for (const text of assertTexts ?? []) {
    try {
      assertions.push(parseAssertion(text));
    } catch (err) {
      if (err instanceof AssertionSyntaxError) throw new CliError(err.message);
      throw err;
    }
  }

  const clusterEnv = clusterEnvSchema.safeParse({ GUILDHALL_NATS_URL: env.GUILDHALL_NATS_URL || undefined, DATABASE_URL: env.DATABASE_URL || undefined });
  if (f['spawn-cluster'] !== undefined && !clusterEnv.success) throw new CliError(clusterEnv.error.issues.map((i) => i.message).join('\n'));

  return resolveOptions(scenario as ScenarioName, {
    urls: f.url,
    spawnCluster: f['spawn-cluster'],
    basePort: f['base-port'],
    down: f.down,
    ...(clusterEnv.success ? { natsUrl: clusterEnv.data.GUILDHALL_NATS_URL, databaseUrl: clusterEnv.data.DATABASE_URL } : {}),
    sessions: f.sessions,
    guilds: f.guilds,
    users: f.users,
    rate: f.rate,
    duration: f.duration,
    messages: f.messages,
    connectRate: f['connect-rate'],
    workers: f.workers,
    cut: f.cut,
    seed: f.seed,
    timeout: f.timeout,
    json: f.json,
    assertions,
    progress: noProgress ? 'off' : 'auto',
  });
}

type Given = { [K in keyof Omit<SimOptions, 'scenario'>]?: SimOptions[K] | undefined } & {
  /** One URL or a comma-separated list (library use; the same as --url). */
  url?: string | undefined;
};

/**
 * Fills in the per-scenario defaults and checks the options against each
 * other. For library use (tests, the benchmark) as well as the command line;
 * throws CliError.
 */
export function resolveOptions(name: ScenarioName, given: Given = {}): SimOptions {
  const d = DEFAULTS[name];
  const sessions = given.sessions ?? d.sessions;
  const guilds = given.guilds ?? (name === 'broadcast' ? 1 : Math.min(d.guilds, sessions));
  const rate = given.rate ?? d.rate;
  const dur = given.duration ?? d.duration;
  const spawnCluster = given.spawnCluster ?? 0;
  // rolling-restart sends until the last node is back; this is only its cap.
  const messages =
    given.messages ??
    (name === 'broadcast' ? 20 : name === 'connect-storm' ? guilds : name === 'rolling-restart' ? Math.round(rate * 60 * Math.max(1, spawnCluster)) : Math.max(1, Math.round(rate * dur)));
  const users = given.users ?? Math.min(sessions, guilds * DEFAULT_USERS_PER_GUILD);
  const connectRate = given.connectRate ?? 500;
  const cut = given.cut ?? 0.5;
  if (users > sessions) throw new CliError(`--users (${users}) cannot exceed --sessions (${sessions})`);
  if (guilds > users) throw new CliError(`--guilds (${guilds}) needs at least as many users (got ${users}): every guild has its own owner`);
  if (name === 'hot-guild' && guilds < 2) throw new CliError('hot-guild needs --guilds of at least 2 (one hot, the rest quiet)');
  if (!(cut >= 0 && cut <= 1)) throw new CliError('--cut must be a share between 0 and 1');
  const workers = given.workers ?? (sessions < 2000 ? 0 : Math.ceil(sessions / 2500));
  if (CLUSTER_SCENARIOS.includes(name) && guilds < 2) throw new CliError(`${name} needs --guilds of at least 2 (one everyone is in, the rest for chat)`);
  let urls = given.urls;
  if (urls === undefined && given.url !== undefined) {
    const parsed = urlList.safeParse(given.url);
    if (!parsed.success) throw new CliError(parsed.error.issues.map((i) => i.message).join('\n'));
    urls = parsed.data;
  }
  if (spawnCluster > 0 && urls !== undefined && urls.length > 0) throw new CliError('--url and --spawn-cluster exclude each other: client-sim either starts the nodes or is given them');
  if (CLUSTER_SCENARIOS.includes(name) && spawnCluster === 0) throw new CliError(`${name} needs --spawn-cluster <n>: client-sim restarts and kills the nodes, so it starts them itself`);
  if (name === 'rolling-restart' && spawnCluster < 2) throw new CliError('rolling-restart needs --spawn-cluster of at least 2: sessions resume on another node while one restarts');

  // Setup, connect, load and drain, with room to spare: the run always ends by itself.
  const connectS = sessions / connectRate;
  const down = given.down ?? 12;
  // Restarts and failover take wall time of their own: up to the drain timeout per node.
  const clusterS = name === 'rolling-restart' ? spawnCluster * 45 : name === 'node-kill' ? down + 30 : 0;
  const loadS = name === 'connect-storm' ? sessions / rate : Math.max(dur, messages / rate);
  const timeout = given.timeout ?? Math.ceil(60 + users / 25 + connectS * 3 + loadS * 3 + clusterS);

  return {
    scenario: name,
    urls: urls ?? (spawnCluster > 0 ? [] : ['http://127.0.0.1:8080']),
    spawnCluster,
    basePort: given.basePort ?? 0,
    natsUrl: given.natsUrl ?? 'nats://127.0.0.1:4222',
    databaseUrl: given.databaseUrl ?? 'postgres://postgres@127.0.0.1:5432/guildhall_cluster',
    down,
    sessions,
    guilds,
    rate,
    duration: dur,
    messages,
    seed: given.seed ?? 1,
    users,
    connectRate,
    workers,
    cut,
    timeout,
    json: given.json,
    assertions: given.assertions ?? [],
    progress: given.progress ?? 'auto',
  };
}
