// A set of sessions in one thread, with their ledger, histograms and
// counters. The same class runs on the main thread (small runs) or inside a
// worker (worker.ts) behind a message port; the pool talks to it through
// `handle`, with plain, structured-cloneable commands and replies.
import { DeliveryLedger, type DeliveryTally, type Registration, type SeqCounts } from './accounting.js';
import { now, sleep } from './clock.js';
import { HistogramSet } from './histograms.js';
import { NodeRing } from './node-ring.js';
import { type SessionCounter, type SessionEnv, type SessionSpec, SimSession } from './session.js';

export interface HostInit {
  /** Every node's gateway URL (with the query string); each session starts at its spec.node's. */
  gatewayUrls: string[];
  /** Every node's REST base URL (history reads after a lost session). */
  restUrls: string[];
  sessions: SessionSpec[];
  /** guildId -> slots of the sessions that are members. */
  memberships: Array<[string, number[]]>;
  labels: Record<string, string>;
}

export type HostCommand =
  | { type: 'connect'; slots: number[]; perSecond: number }
  | { type: 'register'; reg: Registration }
  | { type: 'complete'; key: string; at: number }
  | { type: 'fail'; key: string }
  | { type: 'presence'; slot: number; key: string; status: 'online' | 'idle' | 'dnd' }
  | { type: 'cut'; slots: number[] }
  | { type: 'resume'; slots: number[]; perSecond: number }
  | { type: 'stats'; slots?: boolean }
  | { type: 'result' }
  | { type: 'reset-histograms' }
  | { type: 'close' };

export interface HostStats {
  sessions: number;
  /** Past IDENTIFY's READY (or RESUMED) and currently connected. */
  connected: number;
  /** Every GUILD_CREATE it is due has arrived. */
  complete: number;
  failed: number;
  events: number;
  errors: number;
  outstanding: number;
  /** Slots that are ready and complete (for picking senders and cut victims). */
  readySlots?: number[];
}

export type HostCounters = Record<SessionCounter, number>;

export function emptyCounters(): HostCounters {
  return {
    events: 0,
    resumes: 0,
    resumesFailed: 0,
    unexpectedCloses: 0,
    heartbeatMisses: 0,
    invalidSessions: 0,
    reconnects: 0,
    reidentifies: 0,
    connectFailures: 0,
    guildOutages: 0,
    guildReturns: 0,
    historyReads: 0,
  };
}

export interface HostResult {
  counters: HostCounters;
  seq: SeqCounts & { sessions: number };
  tally: DeliveryTally;
  histograms: Record<string, string>;
  /** Error counts by kind, and a few examples of each. */
  errors: Record<string, number>;
  errorSamples: Record<string, string[]>;
  states: Record<string, number>;
}

/** Connects and resumes never wait longer than this for pacing. */
const MAX_PACING_MS = 10 * 60_000;

export class SessionHost {
  readonly sessions: SimSession[];
  private readonly histograms = new HistogramSet();
  private readonly ledger: DeliveryLedger;
  private readonly counters: HostCounters = emptyCounters();
  private readonly errors: Record<string, number> = {};
  private readonly errorSamples: Record<string, string[]> = {};
  private errorTotal = 0;

  constructor(init: HostInit) {
    const labels = new Map(Object.entries(init.labels));
    const env: SessionEnv = {
      gatewayUrls: init.gatewayUrls,
      rest: new NodeRing(init.restUrls),
      latency: (name, ms) => this.histograms.record(name, ms),
      receive: (slot, key, guildId, at) => this.ledger.receive(slot, key, guildId, at),
      receiveHistory: (slot, key, guildId) => this.ledger.receiveHistory(slot, key, guildId),
      labelOf: (guildId) => labels.get(guildId),
      error: (kind, detail) => this.error(kind, detail),
      count: (counter) => this.counters[counter]++,
      ended: (slot) => this.ledger.sessionEnded(slot),
    };
    this.sessions = init.sessions.map((spec) => new SimSession(spec, env));
    this.ledger = new DeliveryLedger(this.sessions, new Map(init.memberships), (kind, ms) =>
      this.histograms.record(kind === 'message' ? 'fanout' : 'presence_fanout', ms),
    );
  }

  async handle(cmd: HostCommand): Promise<unknown> {
    switch (cmd.type) {
      case 'connect':
        return this.paced(cmd.slots, cmd.perSecond, (s) => s.connect());
      case 'resume':
        return this.paced(cmd.slots, cmd.perSecond, (s) => s.resume());
      case 'register':
        this.ledger.register(cmd.reg);
        return undefined;
      case 'complete':
        this.ledger.complete(cmd.key, cmd.at);
        return undefined;
      case 'fail':
        this.ledger.fail(cmd.key);
        return undefined;
      case 'presence': {
        const s = this.sessions[cmd.slot];
        if (!s) return undefined;
        const sentAt = now();
        return s.presence(cmd.key, cmd.status) ? { sentAt, guildIds: s.spec.guildIds } : undefined;
      }
      case 'cut':
        for (const slot of cmd.slots) this.sessions[slot]?.cut();
        return undefined;
      case 'stats':
        return this.stats(cmd.slots === true);
      case 'result':
        return this.result();
      case 'reset-histograms':
        this.histograms.clear();
        return undefined;
      case 'close':
        await Promise.all(this.sessions.map((s) => s.close()));
        return undefined;
    }
  }

  stats(withSlots = false): HostStats {
    let connected = 0;
    let complete = 0;
    let failed = 0;
    const readySlots: number[] = [];
    for (const s of this.sessions) {
      if (s.connected) connected++;
      if (s.complete) complete++;
      if (s.state === 'failed') failed++;
      if (withSlots && s.connected && s.complete) readySlots.push(s.spec.slot);
    }
    return {
      sessions: this.sessions.length,
      connected,
      complete,
      failed,
      events: this.counters.events,
      errors: this.errorTotal,
      outstanding: this.ledger.outstanding,
      ...(withSlots ? { readySlots } : {}),
    };
  }

  result(): HostResult {
    const seq = { sessions: this.sessions.length, seen: 0, gaps: 0, duplicated: 0, outOfOrder: 0, highest: 0 };
    const states: Record<string, number> = {};
    for (const s of this.sessions) {
      const c = s.seqCounts();
      seq.seen += c.seen;
      seq.gaps += c.gaps;
      seq.duplicated += c.duplicated;
      seq.outOfOrder += c.outOfOrder;
      seq.highest = Math.max(seq.highest, c.highest);
      states[s.state] = (states[s.state] ?? 0) + 1;
    }
    return {
      counters: { ...this.counters },
      seq,
      tally: this.ledger.tally(),
      histograms: this.histograms.encode(),
      errors: { ...this.errors },
      errorSamples: structuredClone(this.errorSamples),
      states,
    };
  }

  private error(kind: string, detail?: string): void {
    this.errorTotal++;
    this.errors[kind] = (this.errors[kind] ?? 0) + 1;
    const samples = (this.errorSamples[kind] ??= []);
    if (detail !== undefined && samples.length < 3) samples.push(detail);
  }

  /** Calls `fn` on each slot's session at `perSecond`, in small batches so timers stay coarse. */
  private async paced(slots: readonly number[], perSecond: number, fn: (s: SimSession) => void): Promise<void> {
    const started = now();
    const batch = Math.max(1, Math.ceil(perSecond / 100));
    for (let i = 0; i < slots.length; i += batch) {
      if (now() - started > MAX_PACING_MS) break;
      const due = started + (i / perSecond) * 1000;
      const wait = due - now();
      if (wait > 1) await sleep(wait);
      for (const slot of slots.slice(i, i + batch)) {
        const s = this.sessions[slot];
        if (s) fn(s);
      }
    }
  }
}
