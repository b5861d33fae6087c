// One simulated gateway session: HELLO -> IDENTIFY -> READY -> GUILD_CREATE
// per guild, heartbeats at the interval HELLO gives, and every dispatch fed to
// the accounting (seq continuity) and, when it carries a nonce, the ledger.
// It can be cut (socket dropped without a close frame, as a network failure)
// and RESUMEd; an unexpected resumable close is resumed too, a bounded
// number of times, the way a real client would. Against a cluster it behaves
// as Discord asks of a client: op 7 RECONNECT -> reconnect at once and RESUME
// at READY's resume_gateway_url (whatever node that names; another node when
// it cannot be reached); INVALID_SESSION -> IDENTIFY afresh (or RESUME again
// when d is true); GUILD_DELETE {unavailable: true} -> wait for the guild's
// GUILD_CREATE. After a fresh IDENTIFY, or a guild's return, it reads the
// channel history it may have missed over REST (history.ts).
// https://discord.com/developers/docs/events/gateway#resuming
import WebSocket from 'ws';
import { type LedgerSession, type SeqCounts, SeqTracker, type TrackedKind } from './accounting.js';
import { now } from './clock.js';
import { maxSnowflake, readHistory } from './history.js';
import type { NodeRing } from './node-ring.js';
import { FATAL_CLOSE_CODES, GATEWAY_QUERY, type GatewayPayload, Intents, Op, nonceOf } from './protocol.js';

export interface SessionSpec {
  /** Index of the session among those of its thread. */
  slot: number;
  token: string;
  /** Guilds its user is a member of: one GUILD_CREATE each is due. */
  guildIds: string[];
  /** The text channel of each guild (same order as guildIds), for catching up from history. */
  channelIds?: string[];
  /** Which of the env's gateway URLs it IDENTIFYs at first (round-robin over the nodes). */
  node?: number;
  intents: number;
  /** False for warm-up sessions whose connect latencies would blur the figures (hot-guild). */
  recordConnect?: boolean;
}

export type SessionState = 'idle' | 'connecting' | 'identifying' | 'ready' | 'cut' | 'resuming' | 'closed' | 'failed';

export type SessionCounter =
  | 'events'
  | 'resumes'
  | 'resumesFailed'
  | 'unexpectedCloses'
  | 'heartbeatMisses'
  | 'invalidSessions'
  | 'reconnects'
  | 'reidentifies'
  | 'connectFailures'
  | 'guildOutages'
  | 'guildReturns'
  | 'historyReads';

/** What a session reports to (and needs from) its host. */
export interface SessionEnv {
  /** The gateway URL of every node (with the query string); a session starts at spec.node's. */
  readonly gatewayUrls: readonly string[];
  /** REST base URLs, for history reads. */
  readonly rest: NodeRing;
  latency(name: string, ms: number): void;
  receive(slot: number, key: string, guildId: string, at: number): void;
  /** `key` was read in `guildId`'s channel history. */
  receiveHistory(slot: number, key: string, guildId: string): void;
  labelOf(guildId: string): string | undefined;
  error(kind: string, detail?: string): void;
  count(counter: SessionCounter): void;
  /** The session is gone for good (failed): what it owed is lost. */
  ended(slot: number): void;
}

/** A resumable close the client did not ask for is resumed at most this many times. */
const MAX_AUTO_RESUMES = 3;
const HANDSHAKE_TIMEOUT_MS = 30_000;
/** Connection attempts that never opened, in a row, before the session gives up (about 40 s of backoff). */
const MAX_CONNECT_ATTEMPTS = 25;
/** INVALID_SESSIONs in a row (no READY between them) before the session gives up: the server keeps refusing it. */
const MAX_REIDENTIFY_STREAK = 5;

export class SimSession implements LedgerSession {
  state: SessionState = 'idle';
  /** Seq accounting of the current gateway session; earlier ones (before a fresh IDENTIFY) are in `pastSeq`. */
  seq = new SeqTracker();
  private readonly pastSeq: SeqCounts = { seen: 0, gaps: 0, duplicated: 0, outOfOrder: 0, highest: 0 };
  sessionId: string | undefined;
  /** READY's resume_gateway_url (with the query string). */
  resumeUrl: string | undefined;
  /** Gateway sessions this one has had (1 + fresh IDENTIFYs after INVALID_SESSION). */
  incarnation = 0;
  /** All due GUILD_CREATEs arrived. */
  complete = false;
  private ws: WebSocket | undefined;
  private heartbeat: NodeJS.Timeout | undefined;
  private awaitingAck = false;
  private connectStarted = 0;
  private identifySentAt: number | undefined;
  private resumeSentAt = 0;
  private readonly joined = new Map<string, number>();
  private pendingGuilds: Set<string>;
  private autoResumes = 0;
  private mode: 'identify' | 'resume' = 'identify';
  private closeWaiters: Array<() => void> = [];
  /** The URL of the current (or last) socket. */
  private url: string;
  private opened = false;
  private connectAttempts = 0;
  private firstIdentifyAt: number | undefined;
  private invalidAt = 0;
  /** Fresh IDENTIFYs since the last READY. */
  private reidentifyStreak = 0;
  private timer: NodeJS.Timeout | undefined;
  /** Guilds reported unavailable (GUILD_DELETE) and not back yet. */
  private readonly unavailable = new Set<string>();
  /** Guilds whose history is to be read at their next GUILD_CREATE (after a fresh IDENTIFY). */
  private readonly catchUpDue = new Set<string>();
  /** Per guild, the largest message id seen (gateway or history): where a catch-up starts. */
  private readonly lastMessageId = new Map<string, string>();
  private readonly channelOf = new Map<string, string>();

  constructor(
    readonly spec: SessionSpec,
    private readonly env: SessionEnv,
  ) {
    this.pendingGuilds = new Set(spec.guildIds);
    this.url = env.gatewayUrls[(spec.node ?? 0) % env.gatewayUrls.length]!;
    spec.channelIds?.forEach((c, i) => this.channelOf.set(spec.guildIds[i]!, c));
  }

  /** Seq counts over every gateway session this client has had. */
  seqCounts(): SeqCounts {
    const c = this.seq.counts();
    const p = this.pastSeq;
    return { seen: p.seen + c.seen, gaps: p.gaps + c.gaps, duplicated: p.duplicated + c.duplicated, outOfOrder: p.outOfOrder + c.outOfOrder, highest: Math.max(p.highest, c.highest) };
  }

  // --- LedgerSession ---------------------------------------------------------

  wants(kind: TrackedKind): boolean {
    const bit = kind === 'message' ? Intents.GuildMessages : Intents.GuildPresences;
    return (this.spec.intents & bit) !== 0;
  }

  joinedAt(guildId: string): number | undefined {
    return this.joined.get(guildId);
  }

  identifiedAt(): number | undefined {
    return this.firstIdentifyAt;
  }

  live(): boolean {
    return this.state !== 'failed' && this.state !== 'closed' && this.state !== 'idle';
  }

  /** Whether its socket is open and past IDENTIFY/RESUME. */
  get connected(): boolean {
    return this.state === 'ready' && this.ws?.readyState === WebSocket.OPEN;
  }

  // --- lifecycle ---------------------------------------------------------------

  /** Opens the socket and identifies. */
  connect(): void {
    if (this.state !== 'idle') return;
    this.mode = 'identify';
    this.open();
  }

  /** Drops the connection without a close frame, as a network failure would. */
  cut(): void {
    if (this.state !== 'ready' || !this.ws) return;
    this.state = 'cut';
    this.stopHeartbeat();
    this.ws.terminate();
  }

  /** Resumes after a cut (or an unexpected close). */
  resume(): void {
    if ((this.state !== 'cut' && this.state !== 'resuming') || this.sessionId === undefined) return;
    this.mode = 'resume';
    this.state = 'resuming';
    this.open(this.resumeUrl ?? this.url);
  }

  /** Sends a presence update whose activity name carries the nonce. */
  presence(key: string, status: 'online' | 'idle' | 'dnd'): boolean {
    if (!this.connected) return false;
    this.send({ op: Op.PRESENCE_UPDATE, d: { since: null, activities: [{ name: `sim:${key}`, type: 0 }], status, afk: false } });
    return true;
  }

  /** Closes with 1000 (which ends the session on the server); resolves when closed or after `timeoutMs`. */
  close(timeoutMs = 2_000): Promise<void> {
    this.stopHeartbeat();
    if (this.timer) clearTimeout(this.timer);
    const ws = this.ws;
    if (this.state !== 'failed') this.state = 'closed';
    if (!ws || ws.readyState === WebSocket.CLOSED) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        ws.terminate();
        resolve();
      }, timeoutMs);
      this.closeWaiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
      if (ws.readyState === WebSocket.CONNECTING) ws.terminate();
      else ws.close(1000);
    });
  }

  // --- socket ------------------------------------------------------------------

  private open(url = this.url): void {
    if (this.mode === 'identify') this.state = 'connecting';
    this.connectStarted = now();
    this.url = url;
    this.opened = false;
    const ws = new WebSocket(url, { perMessageDeflate: false, handshakeTimeout: HANDSHAKE_TIMEOUT_MS });
    this.ws = ws;
    ws.on('open', () => {
      if (ws !== this.ws) return;
      this.opened = true;
      this.connectAttempts = 0;
      if (this.mode === 'identify' && this.incarnation === 0) this.latency('connect', now() - this.connectStarted);
    });
    ws.on('message', (data) => {
      if (ws !== this.ws) return;
      let payload: GatewayPayload;
      try {
        payload = JSON.parse(String(data)) as GatewayPayload;
      } catch {
        this.env.error('bad_payload');
        return;
      }
      this.onPayload(payload);
    });
    ws.on('close', (code, reason) => this.onClose(ws, code, String(reason)));
    ws.on('error', (err) => {
      // A connection that never opened is retried elsewhere (onClose); only errors on open sockets are errors.
      if (ws === this.ws && this.opened && this.state !== 'closed' && this.state !== 'cut') this.env.error('socket_error', err.message);
    });
  }

  /** Leaves the current socket without ending the session on the server (not 1000/1001: Discord ends the session on those). */
  private detach(): void {
    const ws = this.ws;
    this.ws = undefined;
    this.stopHeartbeat();
    if (!ws) return;
    if (ws.readyState === WebSocket.OPEN) ws.close(4000, 'client-sim reconnect');
    else ws.terminate();
  }

  /** Runs `fn` after `ms` unless the session was closed meanwhile. */
  private later(ms: number, fn: () => void): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (this.state !== 'closed' && this.state !== 'failed') fn();
    }, ms);
    this.timer.unref();
  }

  /** The gateway URL after `url` in the node list, for when `url` cannot be reached. */
  private nextUrl(url: string): string {
    const urls = this.env.gatewayUrls;
    const base = url.split('?')[0]!.replace(/\/+$/, '');
    const i = urls.findIndex((u) => u.split('?')[0]!.replace(/\/+$/, '') === base);
    return urls[(i + 1) % urls.length]!;
  }

  private send(payload: { op: number; d: unknown }): void {
    if (this.ws?.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(payload));
  }

  private onPayload(p: GatewayPayload): void {
    switch (p.op) {
      case Op.DISPATCH:
        this.onDispatch(p);
        return;
      case Op.HELLO:
        this.startHeartbeat(Number(p.d?.heartbeat_interval) || 41_250);
        if (this.mode === 'identify') {
          this.state = 'identifying';
          this.identifySentAt = now();
          this.firstIdentifyAt ??= this.identifySentAt;
          this.send({ op: Op.IDENTIFY, d: { token: this.spec.token, intents: this.spec.intents, properties: { os: process.platform, browser: 'client-sim', device: 'client-sim' } } });
        } else {
          this.resumeSentAt = now();
          this.send({ op: Op.RESUME, d: { token: this.spec.token, session_id: this.sessionId, seq: this.seq.last } });
        }
        return;
      case Op.HEARTBEAT_ACK:
        this.awaitingAck = false;
        return;
      case Op.HEARTBEAT:
        this.send({ op: Op.HEARTBEAT, d: this.seq.last || null });
        return;
      case Op.RECONNECT:
        // Discord: reconnect and resume at once. Dispatches still arriving on the old socket are
        // ignored: the RESUME (from the last seq counted) replays them.
        this.env.count('reconnects');
        if (this.sessionId === undefined) return;
        this.detach();
        this.state = 'resuming';
        this.later(Math.random() * 250, () => this.resume());
        return;
      case Op.INVALID_SESSION:
        this.onInvalidSession(p.d === true);
        return;
    }
  }

  private onInvalidSession(resumable: boolean): void {
    this.env.count('invalidSessions');
    if (this.mode === 'resume') this.env.count('resumesFailed');
    this.detach();
    if (resumable && this.sessionId !== undefined) {
      this.state = 'resuming';
      this.later(1000 + Math.random() * 1000, () => this.resume());
      return;
    }
    // The session is gone (its node died, or it expired): IDENTIFY afresh after 1-5 s as Discord
    // asks (shortened: a load test has many), then catch up from history.
    if (++this.reidentifyStreak > MAX_REIDENTIFY_STREAK) return this.fail('invalid_session', `INVALID_SESSION ${MAX_REIDENTIFY_STREAK} times in a row without a READY`);
    this.env.count('reidentifies');
    const c = this.seq.counts();
    const p = this.pastSeq;
    p.seen += c.seen;
    p.gaps += c.gaps;
    p.duplicated += c.duplicated;
    p.outOfOrder += c.outOfOrder;
    p.highest = Math.max(p.highest, c.highest);
    this.seq = new SeqTracker();
    this.sessionId = undefined;
    this.resumeUrl = undefined;
    this.incarnation++;
    this.invalidAt = now();
    this.unavailable.clear();
    for (const g of this.spec.guildIds) this.catchUpDue.add(g);
    this.mode = 'identify';
    this.state = 'connecting';
    this.later(250 + Math.random() * 1000, () => this.open(this.url));
  }

  /** Reads what `guildId`'s channel got after the last message this session saw. */
  private catchUp(guildId: string): void {
    const channelId = this.channelOf.get(guildId);
    if (channelId === undefined) return;
    readHistory(this.env.rest, this.spec.token, channelId, this.lastMessageId.get(guildId) ?? '0', (m) => {
      this.lastMessageId.set(guildId, maxSnowflake(this.lastMessageId.get(guildId), m.id));
      const key = nonceOf(m.content);
      if (key === undefined) return;
      this.env.count('historyReads');
      this.env.receiveHistory(this.spec.slot, key, guildId);
    }).catch((err: unknown) => this.env.error('history_failed', (err as Error).message));
  }

  private onDispatch(p: GatewayPayload): void {
    const at = now();
    if (typeof p.s === 'number') this.seq.observe(p.s);
    this.env.count('events');
    const d = p.d;
    switch (p.t) {
      case 'MESSAGE_CREATE': {
        if (typeof d?.id === 'string' && d.guild_id !== undefined) this.lastMessageId.set(String(d.guild_id), maxSnowflake(this.lastMessageId.get(String(d.guild_id)), d.id));
        const key = nonceOf(d?.content);
        if (key !== undefined) this.env.receive(this.spec.slot, key, String(d.guild_id), at);
        return;
      }
      case 'PRESENCE_UPDATE': {
        const key = nonceOf(d?.activities?.[0]?.name);
        if (key !== undefined) this.env.receive(this.spec.slot, key, String(d.guild_id), at);
        return;
      }
      case 'READY':
        this.state = 'ready';
        this.sessionId = String(d.session_id);
        this.autoResumes = 0;
        this.reidentifyStreak = 0;
        if (typeof d.resume_gateway_url === 'string' && d.resume_gateway_url !== '') this.resumeUrl = `${d.resume_gateway_url.replace(/\/+$/, '')}?${GATEWAY_QUERY}`;
        if (this.incarnation === 0) this.latency('ready', at - (this.identifySentAt ?? at));
        else this.env.latency('reidentify', at - this.invalidAt);
        if (Array.isArray(d.guilds) && d.guilds.length !== this.spec.guildIds.length) this.env.error('ready_guilds_mismatch', `READY lists ${d.guilds.length} guilds, expected ${this.spec.guildIds.length}`);
        if (this.pendingGuilds.size === 0) this.complete = true;
        return;
      case 'GUILD_CREATE': {
        const id = String(d.id);
        if (!this.joined.has(id)) this.joined.set(id, at);
        if (this.unavailable.delete(id)) {
          this.env.count('guildReturns');
          this.catchUp(id);
        } else if (this.catchUpDue.delete(id)) this.catchUp(id);
        if (this.pendingGuilds.delete(id) && this.pendingGuilds.size === 0) this.complete = true;
        // Connect latencies are the first IDENTIFY's; a later one is counted as `reidentify`.
        if (this.incarnation > 0) return;
        const since = at - (this.identifySentAt ?? at);
        this.latency('guild_create', since);
        const label = this.env.labelOf(id);
        if (label !== undefined) this.latency(`guild_create_${label}`, since);
        return;
      }
      case 'GUILD_DELETE':
        // unavailable: an outage (its node died); it comes back with a GUILD_CREATE. Without it: removed.
        if (d?.unavailable === true) {
          this.unavailable.add(String(d.id));
          this.env.count('guildOutages');
        }
        return;
      case 'RESUMED':
        this.state = 'ready';
        this.autoResumes = 0;
        this.env.count('resumes');
        this.env.latency('resume', at - this.resumeSentAt);
        return;
    }
  }

  private onClose(ws: WebSocket, code: number, reason: string): void {
    if (ws !== this.ws) return;
    this.stopHeartbeat();
    const waiters = this.closeWaiters;
    this.closeWaiters = [];
    for (const w of waiters) w();
    if (this.state === 'closed' || this.state === 'failed' || this.state === 'cut') return;
    if (!this.opened) {
      // Never connected (the node is down or restarting): try the next node, with backoff.
      this.env.count('connectFailures');
      if (++this.connectAttempts > MAX_CONNECT_ATTEMPTS) return this.fail('connect_failed', `no node accepted a connection after ${MAX_CONNECT_ATTEMPTS} attempts (last ${this.url})`);
      const next = this.nextUrl(this.url);
      this.later(Math.min(2_000, 50 * 2 ** this.connectAttempts) * (0.5 + Math.random()), () => this.open(next));
      return;
    }
    this.env.count('unexpectedCloses');
    this.env.error(`close_${code}`, reason);
    const resumable = this.sessionId !== undefined && code !== 1000 && code !== 1001 && !FATAL_CLOSE_CODES.has(code);
    if (resumable && this.autoResumes < MAX_AUTO_RESUMES) {
      this.autoResumes++;
      this.state = 'resuming';
      // A real client waits a moment before reconnecting; so do we.
      this.later(100 + Math.random() * 400, () => this.resume());
      return;
    }
    this.fail('closed', `close ${code} ${reason}`);
  }

  private fail(kind: string, detail: string): void {
    if (this.state === 'failed' || this.state === 'closed') return;
    this.state = 'failed';
    this.stopHeartbeat();
    this.env.error(kind, detail);
    this.env.ended(this.spec.slot);
    this.ws?.terminate();
  }

  private latency(name: string, ms: number): void {
    if (this.spec.recordConnect !== false) this.env.latency(name, ms);
  }

  // --- heartbeat ----------------------------------------------------------------

  private startHeartbeat(intervalMs: number): void {
    this.stopHeartbeat();
    this.awaitingAck = false;
    const beat = () => {
      // An unacknowledged beat is a zombie connection (Discord); counted, not acted on.
      if (this.awaitingAck) this.env.count('heartbeatMisses');
      this.awaitingAck = true;
      this.send({ op: Op.HEARTBEAT, d: this.seq.last || null });
    };
    // First beat after interval * jitter, as Discord asks, so thousands of sessions do not beat in step.
    this.heartbeat = setTimeout(() => {
      beat();
      this.heartbeat = setInterval(beat, intervalMs);
    }, intervalMs * Math.random());
  }

  private stopHeartbeat(): void {
    if (this.heartbeat) {
      clearTimeout(this.heartbeat);
      clearInterval(this.heartbeat);
    }
    this.heartbeat = undefined;
  }
}
