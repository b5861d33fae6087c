// The broadcast scenario as a reusable driver: build one guild, connect its
// sessions once, then run as many message bursts as asked, each with its own
// accounting (deliveries, loss) and fanout histogram. The benchmark drives
// the server with it between its CPU and memory readings.
import { type DeliveryTally, emptyTally } from './accounting.js';
import { now } from './clock.js';
import { HistogramSet, type LatencySummary } from './histograms.js';
import { type SendCounters, sendTrackedMessage } from './messages.js';
import { pacedUntil } from './pacing.js';
import { SessionPool } from './pool.js';
import { MESSAGE_INTENTS } from './protocol.js';
import { RestClient, gatewayUrls } from './rest.js';
import { Rng } from './rng.js';
import { type SimTracing, startSimTracing } from './tracing.js';
import { type World, buildWorld, planWorld } from './world.js';

export interface BroadcastDriverOptions {
  /** One base URL per node; sessions and REST calls are spread over them. */
  urls: readonly string[];
  sessions: number;
  /** Distinct users (guild members); sessions are spread over them. */
  users: number;
  workers: number;
  connectRate: number;
  seed: number;
  /** OTEL_* for the driver's own tracing (default: none, no export). */
  env?: NodeJS.ProcessEnv;
}

export interface BurstResult {
  sent: number;
  failed: number;
  expected: number;
  delivered: number;
  lost: number;
  duplicated: number;
  unexpected: number;
  seqGaps: number;
  /** First send to the last due delivery, seconds. */
  wallS: number;
  deliveriesPerS: number;
  fanout: LatencySummary;
}

interface Totals {
  tally: DeliveryTally;
  seqGaps: number;
  seqDuplicated: number;
}

export interface BurstOptions {
  timeoutMs?: number;
  maxInFlight?: number;
  unsampled?: boolean;
}

export class BroadcastDriver {
  private bursts = 0;
  private readonly sent: SendCounters = { messages: 0, presence: 0, failed: 0 };
  private readonly rng: Rng;

  private constructor(
    private readonly world: World,
    private readonly pool: SessionPool,
    private readonly rest: RestClient,
    private readonly tracing: SimTracing,
    private readonly connectRate: number,
    seed: number,
  ) {
    this.rng = new Rng(seed ^ 0x5bd1e995);
  }

  /** Builds the world (one guild, every user in it) through REST; sessions are not connected yet. */
  static async setup(o: BroadcastDriverOptions): Promise<BroadcastDriver> {
    const tracing = startSimTracing(o.env ?? {});
    const rest = new RestClient(o.urls, tracing, new HistogramSet());
    const world = await buildWorld(planWorld({ users: o.users, guilds: 1, sessions: o.sessions, seed: o.seed, membership: () => [0] }), rest);
    const pool = await SessionPool.start({
      gatewayUrls: await gatewayUrls(rest, o.urls),
      restUrls: [...o.urls],
      labels: {},
      workers: o.workers,
      sessions: world.sessionUser.map((u) => ({ token: world.users[u]!.token, guildIds: [world.guilds[0]!.id], channelIds: [world.guilds[0]!.channelId], intents: MESSAGE_INTENTS })),
    });
    return new BroadcastDriver(world, pool, rest, tracing, o.connectRate, o.seed);
  }

  /** Connects every session and waits for READY and GUILD_CREATE; resolves with how many made it. */
  async connect(timeoutMs = 120_000): Promise<number> {
    const all = Array.from({ length: this.pool.size }, (_, i) => i);
    await this.pool.connect(all, this.connectRate);
    const { stats } = await this.pool.waitFor((s) => s.complete + s.failed >= s.sessions, timeoutMs, 50);
    return stats.complete;
  }

  /**
   * Sends `messages` messages at `perSecond` (at most `maxInFlight` at once) and waits until every due delivery arrived.
   * `unsampled`: the posts ask the server not to trace them (trace-flags 00).
   */
  async burst(messages: number, perSecond: number, { timeoutMs = 60_000, maxInFlight = 16, unsampled = false }: BurstOptions = {}): Promise<BurstResult> {
    const n = ++this.bursts;
    const before = await this.totals();
    await this.pool.resetHistograms();
    const sentBefore = { ...this.sent };
    const started = now();
    // No nonce: the benchmark's other servers emit the same MESSAGE_CREATE fields (bench/message-create.ts), and Guildhall echoes a nonce.
    await pacedUntil(messages, perSecond, started + timeoutMs, (i) => sendTrackedMessage(this.world, this.rest, this.pool, this.rng, this.sent, 0, `x${n}-${i}`, undefined, { unsampled, nonce: false }), maxInFlight);
    await this.pool.waitFor((s) => s.outstanding <= 0, Math.max(0, started + timeoutMs - now()), 5);
    const wallS = (now() - started) / 1000;
    const after = await this.totals();
    const histograms = new HistogramSet();
    for (const h of await this.pool.results()) histograms.merge(HistogramSet.decode(h.histograms));
    const delivered = after.tally.delivered - before.tally.delivered;
    return {
      sent: this.sent.messages - sentBefore.messages,
      failed: this.sent.failed - sentBefore.failed,
      expected: after.tally.expected - before.tally.expected,
      delivered,
      lost: after.tally.lost - before.tally.lost,
      duplicated: after.tally.duplicated - before.tally.duplicated + after.seqDuplicated - before.seqDuplicated,
      unexpected: after.tally.unexpected - before.tally.unexpected,
      seqGaps: after.seqGaps - before.seqGaps,
      wallS,
      deliveriesPerS: delivered / Math.max(wallS, 1e-3),
      fanout: histograms.get('fanout').summary(),
    };
  }

  async close(): Promise<void> {
    await this.pool.close();
    await this.tracing.shutdown();
  }

  private async totals(): Promise<Totals> {
    const t: Totals = { tally: emptyTally(), seqGaps: 0, seqDuplicated: 0 };
    for (const h of await this.pool.results()) {
      for (const k of Object.keys(t.tally) as (keyof DeliveryTally)[]) t.tally[k] += h.tally[k];
      t.seqGaps += h.seq.gaps;
      t.seqDuplicated += h.seq.duplicated;
    }
    return t;
  }
}
