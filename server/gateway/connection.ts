// One gateway WebSocket: HELLO, frame decoding and validation, heartbeats and
// the rate limit, IDENTIFY and RESUME; after that it hands the client's ops to
// its session actor, and the session writes dispatches back through it.
// Bad input closes with Discord's codes and never throws past this class.
import type { SessionSocket } from './session-socket.js';
import type { Duplex } from 'node:stream';
import { SpanKind, context } from '@opentelemetry/api';
import type { ActorRef, TimerHandle } from '../../actors/index.js';
import { ATTR_GUILD_ID, startIngressSpan } from '../../tracing/index.js';
import { verifyToken } from '../auth/token.js';
import type { ServerContext } from '../context.js';
import { GatewayCloseCode, canResume, isGatewayCloseCode } from '../errors.js';
import { type EncodedDispatch, encodeOp } from './dispatch.js';
import { FrameWriter } from './frame-writer.js';
import { type GatewaySocket, type GatewaySocketOwner, WS_ERR_MESSAGE_TOO_BIG } from './gateway-socket.js';
import type { HeartbeatDeadlineOwner, HeartbeatDeadlines } from './heartbeat-deadlines.js';
import type { IdentifyLimiter } from './identify-limiter.js';
import { type ClientFrame, GatewayOp, type IdentifyData, type ResumeData, closeReason, decodeFrame, privilegedIntents } from './protocol.js';
import { sessionBehaviour, sessionKey } from './session-actor.js';
import { handoffCandidates, newSessionId } from './session-handoff.js';
import type { ResumeOutcome, SessionProtocol } from './session-protocol.js';

/** Discord allows 120 gateway events per connection per 60 seconds. */
export const RATE_LIMIT_EVENTS = 120;
export const RATE_LIMIT_WINDOW_MS = 60_000;
/** A client may be this late with a heartbeat (x interval) before the session times out. */
export const HEARTBEAT_GRACE = 1.5;
/** Mailbox of a session: deep enough for bursts; past it the session is closed, not left to grow. */
const SESSION_MAILBOX = 10_000;
/** Shard [0, 1], shared by every session that has no other (never mutated: a session's shard is replaced, not changed). */
const UNSHARDED = Object.freeze([0, 1]) as unknown as [number, number];
/** A take-over asks up to a few nodes in turn (session-handoff.ts HANDOFF_CALL_MS each). */
const TAKE_OVER_TIMEOUT_MS = 30_000;

export interface ConnectionHooks {
  onClose(connection: Connection): void;
  /** Other live nodes, where a session not running here may be (cluster mode; none otherwise). */
  peers(): readonly string[];
  /** The server closed this connection with `code` (counted for metrics). */
  onServerClose(code: number, reason: string): void;
}

export class Connection implements SessionSocket, GatewaySocketOwner, HeartbeatDeadlineOwner {
  private readonly writer: FrameWriter;
  private session: ActorRef<SessionProtocol> | undefined;
  private authenticating = false;
  private closing = false;
  /** HELLO sent: client frames are read from then on. */
  private started = false;
  private closeCode: number | undefined;
  private identifyTimer: TimerHandle | undefined;
  private windowStart = 0;
  private eventsInWindow = 0;

  constructor(
    private readonly ws: GatewaySocket,
    socket: Duplex,
    private readonly ctx: ServerContext,
    private readonly hooks: ConnectionHooks,
    private readonly identifyLimiter: IdentifyLimiter,
    /** Shared by every connection of the server: one timer for all heartbeat deadlines. */
    private readonly heartbeats: HeartbeatDeadlines,
  ) {
    this.writer = new FrameWriter(socket);
    this.ws.owner = this;
  }

  /** ws closes by itself on some bad input (see GatewaySocket); what we queued still goes first. */
  beforeClose(): void {
    this.writer.flushNow();
  }

  onError(err: Error & { code?: string }): void {
    // An oversized message: ws has already closed the socket with 4002 (GatewaySocket); count it as ours.
    if (err.code === WS_ERR_MESSAGE_TOO_BIG && !this.closing) {
      this.closing = true;
      this.closeCode = GatewayCloseCode.DECODE_ERROR;
      this.hooks.onServerClose(GatewayCloseCode.DECODE_ERROR, closeReason(GatewayCloseCode.DECODE_ERROR, 'payload too large'));
      return;
    }
    this.ctx.logger.debug({ err }, 'gateway socket error');
  }

  heartbeatDeadlinePassed(): void {
    this.close(GatewayCloseCode.SESSION_TIMED_OUT);
  }

  /** Sends HELLO and starts listening. */
  start(): void {
    this.started = true;
    this.sendOp(GatewayOp.HELLO, { heartbeat_interval: this.ctx.config.heartbeatIntervalMs });
    this.heartbeats.arm(this);
    // Discord closes a connection that never authenticates. Heartbeats alone do not keep one
    // open: it holds a socket and a slot for nothing. 4009 rather than 4003: the client did
    // nothing out of order (4003 is "sent a payload prior to identifying"), it ran out of time,
    // and 4009 tells it to reconnect and IDENTIFY afresh, which is what it should do.
    this.identifyTimer = this.ctx.system.clock.setTimeout(() => {
      if (!this.session) this.close(GatewayCloseCode.SESSION_TIMED_OUT, 'no IDENTIFY or RESUME in time');
    }, this.ctx.config.identifyTimeoutMs);
  }

  get open(): boolean {
    return !this.closing && this.writer.writable;
  }

  sendOp(op: number, d: unknown): void {
    if (!this.open) return;
    const frame = encodeOp(op, d);
    this.writer.writeText([frame]);
    const counters = this.ctx.metrics.gateway;
    counters.frames++;
    counters.bytes += frame.length;
  }

  /**
   * Writes one dispatch with its seq. A client that lets more than
   * maxBufferedBytes pile up is a slow consumer: closed with 4000, which is
   * resumable, so it can catch up from the replay buffer.
   */
  sendDispatch(dispatch: EncodedDispatch, seq: number, last = false): boolean {
    if (this.closing) return false;
    // 0: the socket is gone (the writer checks, once per frame).
    const bytes = this.writer.writeDispatch(dispatch.head, seq, last);
    if (bytes === 0) return false;
    // Plain integers, read at scrape time: nothing heavier belongs on the per-recipient path.
    const counters = this.ctx.metrics.gateway;
    counters.dispatches++;
    counters.frames++;
    counters.bytes += bytes;
    if (this.writer.bufferedBytes > this.ctx.config.maxBufferedBytes) {
      this.close(GatewayCloseCode.UNKNOWN_ERROR, 'slow consumer');
      return false;
    }
    return true;
  }

  /** Closes with a gateway close code (Discord's reason text, plus `detail`). */
  close(code: number, detail?: string): void {
    this.closeWithReason(code, isGatewayCloseCode(code) ? closeReason(code, detail) : (detail ?? ''));
  }

  private closeWithReason(code: number, reason: string): void {
    if (this.closing) return;
    this.closing = true;
    this.closeCode = code;
    this.hooks.onServerClose(code, reason);
    // What was written before the close goes before the close frame.
    this.writer.flushNow();
    try {
      this.ws.close(code, reason);
    } catch {
      this.ws.terminate();
    }
  }

  /** Immediate teardown, for shutdown. */
  terminate(): void {
    this.closing = true;
    this.ws.terminate();
  }

  onMessage(data: Buffer, _isBinary: boolean): void {
    if (this.closing || !this.started) return;
    if (!this.withinRateLimit()) {
      this.close(GatewayCloseCode.RATE_LIMITED);
      return;
    }
    const decoded = decodeFrame(data);
    if (!decoded.ok) {
      this.closeWithReason(decoded.closeCode, decoded.reason);
      return;
    }
    this.handle(decoded.frame).catch((err: unknown) => {
      this.ctx.logger.error({ err }, 'gateway op failed');
      this.close(GatewayCloseCode.UNKNOWN_ERROR);
    });
  }

  private async handle(frame: ClientFrame): Promise<void> {
    switch (frame.op) {
      case GatewayOp.HEARTBEAT:
        this.heartbeats.arm(this);
        this.sendOp(GatewayOp.HEARTBEAT_ACK, null);
        return;
      case GatewayOp.IDENTIFY:
        return this.identify(frame.d);
      case GatewayOp.RESUME:
        return this.resume(frame.d);
      case GatewayOp.PRESENCE_UPDATE: {
        const session = this.requireSession();
        if (!session) return;
        const ingress = startIngressSpan(this.ctx.tracing.tracer, 'gateway PRESENCE_UPDATE', { kind: SpanKind.SERVER });
        context.with(ingress.context, () => session.cast({ type: 'presence', data: frame.d }));
        ingress.span?.end();
        return;
      }
      case GatewayOp.REQUEST_GUILD_MEMBERS: {
        const session = this.requireSession();
        if (!session) return;
        const ingress = startIngressSpan(this.ctx.tracing.tracer, 'gateway REQUEST_GUILD_MEMBERS', { kind: SpanKind.SERVER, attributes: { [ATTR_GUILD_ID]: frame.d.guild_id } });
        context.with(ingress.context, () => session.cast({ type: 'request_members', data: frame.d }));
        ingress.span?.end();
        return;
      }
      case GatewayOp.VOICE_STATE_UPDATE:
        // Accepted and ignored: there is no voice.
        this.requireSession();
        return;
    }
  }

  private requireSession(): ActorRef<SessionProtocol> | undefined {
    if (!this.session) this.close(GatewayCloseCode.NOT_AUTHENTICATED);
    return this.session;
  }

  private async identify(d: IdentifyData): Promise<void> {
    if (this.session || this.authenticating) return this.close(GatewayCloseCode.ALREADY_AUTHENTICATED);
    this.authenticating = true;
    const userId = verifyToken(this.ctx.config.tokenSecret, d.token);
    const user = userId === undefined ? undefined : await this.ctx.store.getUser(userId);
    if (!user) return this.close(GatewayCloseCode.AUTHENTICATION_FAILED);
    if (!this.ctx.config.privilegedIntents && privilegedIntents(d.intents) !== 0) return this.close(GatewayCloseCode.DISALLOWED_INTENTS);
    if (this.closing) return;
    const shard = d.shard && (d.shard[0] !== 0 || d.shard[1] !== 1) ? ([d.shard[0], d.shard[1]] as [number, number]) : UNSHARDED;
    // Over max_concurrency Discord answers op 9 (d: false) and leaves the socket open: the
    // client waits and IDENTIFYs again (the identify timeout still runs).
    if (!this.identifyLimiter.tryStart(user.id, shard[0])) {
      this.authenticating = false;
      return this.sendOp(GatewayOp.INVALID_SESSION, false);
    }

    // In cluster mode the id names this node, where a RESUME on another node looks for it first.
    const sessionId = newSessionId(this.ctx.system.remote === undefined ? undefined : this.ctx.system.node);
    const ingress = startIngressSpan(this.ctx.tracing.tracer, 'gateway IDENTIFY', {
      kind: SpanKind.SERVER,
      attributes: { 'guildhall.user.id': user.id, 'guildhall.session.id': sessionId, 'gateway.intents': d.intents },
    });
    try {
      const session = this.ctx.system.spawn(
        sessionBehaviour(this.ctx, {
          sessionId,
          user,
          intents: d.intents,
          shard,
          largeThreshold: d.large_threshold ?? 50,
          presence: d.presence,
          connection: this,
        }),
        { key: sessionKey(sessionId), mailbox: { capacity: SESSION_MAILBOX, overflow: 'stop' } },
      );
      this.attached(session);
      await context.with(ingress.context, () => session.call({ type: 'identify' }, { timeoutMs: 60_000 }));
    } finally {
      ingress.span?.end();
      this.authenticating = false;
    }
  }

  private async resume(d: ResumeData): Promise<void> {
    if (this.session || this.authenticating) return this.close(GatewayCloseCode.ALREADY_AUTHENTICATED);
    const userId = verifyToken(this.ctx.config.tokenSecret, d.token);
    if (userId === undefined) return this.close(GatewayCloseCode.AUTHENTICATION_FAILED);
    const key = sessionKey(d.session_id);
    const local = this.ctx.system.whereis<SessionProtocol>(key);
    // d: false tells the client the session cannot be resumed: IDENTIFY afresh.
    const candidates = local ? [] : this.ctx.system.remote === undefined ? [] : handoffCandidates(this.ctx.system, key, d.session_id, this.hooks.peers());
    if (!local && candidates.length === 0) return this.sendOp(GatewayOp.INVALID_SESSION, false);
    this.authenticating = true;
    const ingress = startIngressSpan(this.ctx.tracing.tracer, 'gateway RESUME', { kind: SpanKind.SERVER, attributes: { 'guildhall.session.id': d.session_id } });
    try {
      let session = local;
      let outcome: ResumeOutcome;
      if (session) {
        outcome = await context.with(ingress.context, () => session!.call({ type: 'resume', connection: this, seq: d.seq, userId }) as Promise<ResumeOutcome>).catch(() => 'invalid_session' as const);
      } else {
        // Held on another node (or nowhere): a session here takes it over (session-handoff.ts).
        session = await this.spawnTakeover(d.session_id, userId);
        outcome = session
          ? await context.with(ingress.context, () => session!.call({ type: 'take_over', candidates, connection: this, seq: d.seq, userId }, { timeoutMs: TAKE_OVER_TIMEOUT_MS }) as Promise<ResumeOutcome>).catch(() => 'invalid_session' as const)
          : 'invalid_session';
      }
      if (outcome === 'resumed') this.attached(session!);
      else if (outcome === 'invalid_seq') this.close(GatewayCloseCode.INVALID_SEQ);
      else this.sendOp(GatewayOp.INVALID_SESSION, false);
    } finally {
      ingress.span?.end();
      this.authenticating = false;
    }
  }

  /** A session actor to take `sessionId` over from another node; undefined when the user is gone or one is already here. */
  private async spawnTakeover(sessionId: string, userId: string): Promise<ActorRef<SessionProtocol> | undefined> {
    const user = await this.ctx.store.getUser(userId);
    if (!user || this.closing) return undefined;
    try {
      return this.ctx.system.spawn(
        // Intents, shard and presence come with the old session's state.
        sessionBehaviour(this.ctx, { sessionId, user, intents: 0, shard: UNSHARDED, largeThreshold: 50, presence: undefined, connection: undefined }),
        { key: sessionKey(sessionId), mailbox: { capacity: SESSION_MAILBOX, overflow: 'stop' } },
      );
    } catch {
      return undefined; // a RESUME of the same session is already taking it over here
    }
  }

  private attached(session: ActorRef<SessionProtocol>): void {
    this.session = session;
    if (this.identifyTimer) this.ctx.system.clock.clearTimeout(this.identifyTimer);
    this.identifyTimer = undefined;
  }

  private withinRateLimit(): boolean {
    const now = this.ctx.system.clock.now();
    if (now - this.windowStart >= RATE_LIMIT_WINDOW_MS) {
      this.windowStart = now;
      this.eventsInWindow = 0;
    }
    return ++this.eventsInWindow <= RATE_LIMIT_EVENTS;
  }

  onClose(peerCode: number): void {
    this.closing = true;
    this.heartbeats.disarm(this);
    if (this.identifyTimer) this.ctx.system.clock.clearTimeout(this.identifyTimer);
    const code = this.closeCode ?? peerCode;
    if (this.closeCode === undefined) {
      const byClient = this.ctx.metrics.gateway.clientCloses;
      byClient[peerCode] = (byClient[peerCode] ?? 0) + 1;
    }
    // A client closing with 1000/1001 ends its session (Discord); anything else may RESUME.
    const resumable = this.closeCode !== undefined ? canResume(code) : code !== 1000 && code !== 1001;
    this.session?.cast({ type: 'detached', connection: this, resumable });
    this.hooks.onClose(this);
  }
}
