// One simulated gateway session: HELLO -> IDENTIFY -> READY -> GUILD_CREATE
// per guild, heartbeats at the interval HELLO gives, and every dispatch fed to
// the accounting (seq continuity) and, when it carries a nonce, the ledger.
// It can be cut (socket dropped without a close frame, as a network failure)
// and RESUMEd; an unexpected resumable close is resumed too, a bounded
// number of times, the way a real client would.
import WebSocket from 'ws';
import { type LedgerSession, SeqTracker, type TrackedKind } from './accounting.js';
import { now } from './clock.js';
import { FATAL_CLOSE_CODES, type GatewayPayload, Intents, Op, nonceOf } from './protocol.js';

export interface SessionSpec {
  /** Index of the session among those of its thread. */
  slot: number;
  token: string;
  /** Guilds its user is a member of: one GUILD_CREATE each is due. */
  guildIds: string[];
  intents: number;
  /** False for warm-up sessions whose connect latencies would blur the figures (hot-guild). */
  recordConnect?: boolean;
}

export type SessionState = 'idle' | 'connecting' | 'identifying' | 'ready' | 'cut' | 'resuming' | 'closed' | 'failed';

/** What a session reports to (and needs from) its host. */
export interface SessionEnv {
  readonly gatewayUrl: string;
  latency(name: string, ms: number): void;
  receive(slot: number, key: string, guildId: string, at: number): void;
  labelOf(guildId: string): string | undefined;
  error(kind: string, detail?: string): void;
  count(counter: 'events' | 'resumes' | 'resumesFailed' | 'unexpectedCloses' | 'heartbeatMisses' | 'invalidSessions'): void;
  /** The session is gone for good (failed): what it owed is lost. */
  ended(slot: number): void;
}

/** A resumable close the client did not ask for is resumed at most this many times. */
const MAX_AUTO_RESUMES = 3;
const HANDSHAKE_TIMEOUT_MS = 30_000;

export class SimSession implements LedgerSession {
  state: SessionState = 'idle';
  readonly seq = new SeqTracker();
  sessionId: string | undefined;
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

  constructor(
    readonly spec: SessionSpec,
    private readonly env: SessionEnv,
  ) {
    this.pendingGuilds = new Set(spec.guildIds);
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
    return this.identifySentAt;
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
    this.open();
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

  private open(): void {
    if (this.mode === 'identify') this.state = 'connecting';
    this.connectStarted = now();
    const ws = new WebSocket(this.env.gatewayUrl, { perMessageDeflate: false, handshakeTimeout: HANDSHAKE_TIMEOUT_MS });
    this.ws = ws;
    ws.on('open', () => {
      if (this.mode === 'identify') this.latency('connect', now() - this.connectStarted);
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
      if (ws === this.ws && this.state !== 'closed' && this.state !== 'cut') this.env.error('socket_error', err.message);
    });
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
        // The server closes next (resumable); onClose resumes.
        return;
      case Op.INVALID_SESSION:
        this.env.count('invalidSessions');
        if (this.mode === 'resume') this.env.count('resumesFailed');
        this.fail('invalid_session', this.mode === 'resume' ? 'RESUME refused' : 'IDENTIFY refused');
        return;
    }
  }

  private onDispatch(p: GatewayPayload): void {
    const at = now();
    if (typeof p.s === 'number') this.seq.observe(p.s);
    this.env.count('events');
    const d = p.d;
    switch (p.t) {
      case 'MESSAGE_CREATE': {
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
        this.latency('ready', at - (this.identifySentAt ?? at));
        if (Array.isArray(d.guilds) && d.guilds.length !== this.spec.guildIds.length) this.env.error('ready_guilds_mismatch', `READY lists ${d.guilds.length} guilds, expected ${this.spec.guildIds.length}`);
        if (this.pendingGuilds.size === 0) this.complete = true;
        return;
      case 'GUILD_CREATE': {
        const id = String(d.id);
        if (!this.joined.has(id)) this.joined.set(id, at);
        const since = at - (this.identifySentAt ?? at);
        this.latency('guild_create', since);
        const label = this.env.labelOf(id);
        if (label !== undefined) this.latency(`guild_create_${label}`, since);
        if (this.pendingGuilds.delete(id) && this.pendingGuilds.size === 0) this.complete = true;
        return;
      }
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
    this.env.count('unexpectedCloses');
    this.env.error(`close_${code}`, reason);
    const resumable = this.sessionId !== undefined && code !== 1000 && code !== 1001 && !FATAL_CLOSE_CODES.has(code);
    if (resumable && this.autoResumes < MAX_AUTO_RESUMES) {
      this.autoResumes++;
      this.state = 'resuming';
      // A real client waits a moment before reconnecting; so do we.
      setTimeout(() => this.resume(), 100 + Math.random() * 400).unref();
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
