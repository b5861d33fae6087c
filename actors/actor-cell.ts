// One running actor: its mailbox, state and lifecycle. Handles one message at
// a time, in mailbox order, even when a handler is async; a throwing handler
// crashes only this actor, and the supervision policy decides what follows.
import type { ActorContext, Behaviour, DeferredReply, InfoOf, Protocol, ReplyOf, StopReason } from './behaviour.js';
import type { Clock, TimerHandle } from './clock.js';
import { ActorLoad } from './actor-load.js';
import { type PooledEntry, releaseEntry, takeEntry } from './entry-pool.js';
import { unwrap } from './envelope.js';
import { ActorError, ActorErrorCode } from './errors.js';
import { Mailbox, type MessageOp, type OverflowPolicy, type PendingReply } from './mailbox.js';
import type { ActorRef, Address } from './ref.js';
import type { Relay } from './relay.js';
import type { Runnable, Scheduler } from './scheduler.js';
import { RestartTracker, type SupervisionPolicy } from './supervision.js';

export type ActorStatus = 'starting' | 'running' | 'restarting' | 'stopped';

/** Why a monitored actor went down; `noproc` when it was not there to begin with. */
export type DownReason = StopReason | { type: 'noproc' } | { type: 'nodedown'; node: string };
export type DownListener = (reason: DownReason, address: Address) => void;

/** What a cell needs from its system. */
export interface CellHost {
  readonly clock: Clock;
  /** The clock reading a message enqueued now is stamped with (during a broadcast, shared by a few deliveries in a row). */
  enqueueTime(): number;
  readonly relay: Relay;
  readonly scheduler: Scheduler;
  report(error: unknown, where: string, address: Address): void;
  emit(event: ActorEvent): void;
  unregister(cell: ActorCell<unknown, Protocol>): void;
}

export type ActorEvent =
  | { type: 'restart'; address: Address; error: unknown; delayMs: number }
  | { type: 'stop'; address: Address; reason: StopReason }
  | { type: 'drop'; address: Address; op: MessageOp; policy: OverflowPolicy };

interface Thenable {
  then(ok: (v: unknown) => void, err: (e: unknown) => void): unknown;
}

function isThenable(v: unknown): v is Thenable {
  return v !== null && typeof v === 'object' && typeof (v as Thenable).then === 'function';
}

// The cell whose message the relay's inbound chain is carrying to `handleCurrent`.
// The chain runs synchronously inside ActorCell.process, which saves and
// restores it, so one shared function serves every cell (no closure per actor).
let running: ActorCell<unknown, Protocol> | undefined;

/** Hands a (possibly enveloped) payload to the behaviour of the cell being processed. */
function handleCurrent(payload: unknown): unknown {
  return running!.handle(payload);
}

const NORMAL: StopReason = Object.freeze({ type: 'normal' });

/**
 * One actor. The cell is also the ActorContext its handlers receive (self, id,
 * waiting...): a separate context object was one more object per actor, read
 * by every delivery whose handler asks how many messages wait behind it.
 */
export class ActorCell<S, P extends Protocol> implements Runnable, ActorContext<P> {
  readonly mailbox: Mailbox;
  /** Handled messages and their waits over the last minute, for the actor top. */
  readonly load: ActorLoad;
  status: ActorStatus = 'starting';
  private state: S | undefined;
  /** Awaiting an async init or handler: the next message must wait. */
  private busy = false;
  // Made on first use: most actors never set a timer, are never monitored, never crash.
  private timers: Set<TimerHandle> | undefined;
  private monitors: Set<DownListener> | undefined;
  private restarts: RestartTracker | undefined;
  /**
   * The entry being handled and, once a synchronous handler returned, the
   * last one handled until the cell's next clock reading (the next message's
   * dequeue or the end of the slice) checks it for tail capture and lets it
   * go. Kept in this one field so a handled message costs one store of the
   * entry, not two (storing a new object on a long-lived cell is V8's write
   * barrier slow path).
   */
  private current: PooledEntry | undefined;
  /** The entry whose reply the handler took over with deferReply(). */
  private deferred: PooledEntry | undefined;

  constructor(
    private readonly host: CellHost,
    readonly address: Address,
    readonly ref: ActorRef<P>,
    private readonly behaviour: Behaviour<S, P>,
    capacity: number,
    private readonly overflow: OverflowPolicy,
    private readonly supervision: SupervisionPolicy,
  ) {
    this.mailbox = new Mailbox(capacity);
    this.load = new ActorLoad(host.clock.now());
    // init runs from the scheduler, in a clean async context, like any message.
    host.scheduler.enqueue(this);
  }

  get self(): ActorRef<P> {
    return this.ref;
  }

  get id(): string {
    return this.address.id;
  }

  get kind(): string {
    return this.address.kind;
  }

  get waiting(): number {
    return this.mailbox.depth;
  }

  get restartCount(): number {
    return this.restarts?.restarts ?? 0;
  }

  get clock(): Clock {
    return this.host.clock;
  }

  get alive(): boolean {
    return this.status !== 'stopped';
  }

  hostedBy(host: CellHost): boolean {
    return this.host === host;
  }

  enqueue(op: MessageOp, payload: unknown, reply: PendingReply | undefined): boolean {
    // Stopped or full: out of line, so this stays small enough to inline into every send.
    if ((this.status === 'stopped' || this.mailbox.full) && !this.admit(op, reply)) return false;
    const mailbox = this.mailbox;
    const depth = mailbox.depth;
    mailbox.push(takeEntry(op, payload, this.host.enqueueTime(), depth, reply));
    if (depth === 0 && this.status === 'running' && !this.busy) this.host.scheduler.enqueue(this);
    return true;
  }

  /** A message for a stopped actor is refused; one for a full mailbox meets the overflow policy. */
  private admit(op: MessageOp, reply: PendingReply | undefined): boolean {
    if (this.status === 'stopped') {
      reply?.reject(new ActorError(ActorErrorCode.STOPPED, `${this.describe()} is stopped`));
      return false;
    }
    return this.makeRoom(op, reply);
  }

  runSlice(max: number): number {
    if (this.status === 'starting') {
      if (this.busy) return 0;
      this.runInit();
      // init took time of its own: the previous slice's end reading is not this slice's start.
      this.host.scheduler.reading = NaN;
    }
    let n = 0;
    // The first message's dequeue reading, taken as a number: its entry is reused once handled.
    let startedAt = 0;
    while (n < max && this.status === 'running' && !this.busy) {
      // Every entry in a cell's mailbox was made by its enqueue (takeEntry).
      const entry = this.mailbox.shift() as PooledEntry | undefined;
      if (!entry) break;
      this.process(entry);
      if (n++ === 0) startedAt = entry.dequeuedAt;
    }
    // What the slice cost, for the actor top: one clock reading per slice, not per message
    // (the slice began at its first message's dequeue reading).
    if (n > 0) {
      const end = this.host.clock.now();
      this.load.busy(end, end - startedAt);
      // The next slice of this drain begins now: its first dequeue takes this reading.
      this.host.scheduler.reading = end;
      // An idle actor must not keep its last message (a call's reply, its timer) alive.
      if (!this.busy) this.checkLast(end);
    }
    return n;
  }

  get ready(): boolean {
    return this.status === 'running' && !this.busy && this.mailbox.depth > 0;
  }

  monitor(listener: DownListener): () => void {
    const monitors = (this.monitors ??= new Set());
    monitors.add(listener);
    return () => monitors.delete(listener);
  }

  stop(reason: StopReason = NORMAL): void {
    if (this.status === 'stopped') return;
    this.status = 'stopped';
    this.clearTimers();
    for (const entry of this.mailbox.drain()) {
      entry.reply?.reject(new ActorError(ActorErrorCode.STOPPED, `${this.describe()} stopped before handling the call`));
    }
    try {
      this.behaviour.terminate?.(reason, this.state, this);
    } catch (err) {
      this.host.report(err, 'terminate', this.address);
    }
    this.host.unregister(this as ActorCell<unknown, Protocol>);
    this.host.emit({ type: 'stop', address: this.address, reason });
    const monitors = this.monitors;
    if (monitors === undefined) return;
    for (const listener of monitors) {
      try {
        listener(reason, this.address);
      } catch (err) {
        this.host.report(err, 'monitor', this.address);
      }
    }
    monitors.clear();
  }

  private describe(): string {
    return `actor ${this.address.kind}:${this.address.id}`;
  }

  /** Applies the overflow policy to a full mailbox; true if the new message may be queued. */
  private makeRoom(op: MessageOp, reply: PendingReply | undefined): boolean {
    this.mailbox.dropped++;
    this.host.emit({ type: 'drop', address: this.address, op, policy: this.overflow });
    const full = () => new ActorError(ActorErrorCode.MAILBOX_FULL, `${this.describe()} mailbox is full (${this.mailbox.capacity})`);
    if (this.overflow === 'drop-oldest') {
      this.mailbox.shift()?.reply?.reject(full());
      return true;
    }
    reply?.reject(full());
    if (this.overflow === 'stop') this.stop({ type: 'overflow' });
    return false;
  }

  private runInit(): void {
    let result: unknown;
    try {
      result = this.behaviour.init(this);
    } catch (err) {
      this.crash(err);
      return;
    }
    if (isThenable(result)) {
      this.busy = true;
      result.then(
        (state) => {
          this.busy = false;
          if (this.status === 'starting') this.started(state as S);
        },
        (err) => {
          this.busy = false;
          if (this.status === 'starting') this.crash(err);
        },
      );
    } else {
      this.started(result as S);
    }
  }

  private started(state: S): void {
    this.state = state;
    this.status = 'running';
    if (this.mailbox.depth > 0) this.host.scheduler.enqueue(this);
  }

  private process(entry: PooledEntry): void {
    // The one clock reading per handled message: the wait for the actor top,
    // and for whatever the interceptors want to know (span start, metrics).
    // A slice's first message takes the reading the previous slice ended with.
    const scheduler = this.host.scheduler;
    let now = scheduler.reading;
    if (Number.isNaN(now)) now = this.host.clock.now();
    else scheduler.reading = NaN;
    entry.dequeuedAt = now;
    this.load.record(now, now - entry.enqueuedAt);
    // The previous message's handling ended just before this reading.
    const last = this.current;
    if (last !== undefined) {
      if (now - last.enqueuedAt >= this.host.relay.slowMs) this.host.relay.slow(last, this.address, now);
      releaseEntry(last);
    }
    this.current = entry;
    let result: unknown;
    const outer = running;
    running = this as ActorCell<unknown, Protocol>;
    try {
      result = this.host.relay.inbound(entry, this.address, handleCurrent);
    } catch (err) {
      this.current = undefined;
      this.failed(entry, err);
      return;
    } finally {
      running = outer;
    }
    if (isThenable(result)) this.settleLater(entry, result);
    // Done with it; `current` keeps it until the next clock reading checks it (checkLast).
    else this.replied(entry, result);
  }

  /** An async handler: the actor waits for it (busy) before its next message. */
  private settleLater(entry: PooledEntry, result: Thenable): void {
    this.busy = true;
    result.then(
      (value) => {
        this.busy = false;
        this.current = undefined;
        this.replied(entry, value);
        this.finishedLater(entry);
        releaseEntry(entry);
        this.resume();
      },
      (err) => {
        this.busy = false;
        this.current = undefined;
        this.failed(entry, err);
        this.resume();
      },
    );
  }

  /**
   * Tail capture: a message whose wait plus handling reached the relay's
   * threshold is reported once it is done. A message handled synchronously
   * is checked at the cell's next clock reading (the next message's dequeue,
   * or the end of the slice, both taken anyway): one subtraction and one
   * comparison, no clock reading and nothing stored of its own. With no
   * watcher the threshold is Infinity and the comparison never passes.
   */
  private checkLast(end: number): void {
    const entry = this.current;
    if (entry === undefined) return;
    this.current = undefined;
    const relay = this.host.relay;
    if (end - entry.enqueuedAt >= relay.slowMs) {
      relay.slow(entry, this.address, end);
      // The report took time of its own: the next slice reads the clock afresh.
      this.host.scheduler.reading = NaN;
    }
    releaseEntry(entry);
  }

  /** An async handler settled outside any slice: its own clock reading. */
  private finishedLater(entry: PooledEntry): void {
    const relay = this.host.relay;
    if (relay.slowMs === Infinity) return;
    const end = this.host.clock.now();
    if (end - entry.enqueuedAt >= relay.slowMs) relay.slow(entry, this.address, end);
  }

  /** Hands a (possibly enveloped) payload to the behaviour (through handleCurrent, from the relay). */
  handle(payload: unknown): unknown {
    const message = unwrap(payload);
    const op = this.current!.op;
    const b = this.behaviour;
    const state = this.state as S;
    if (op === 'cast') return b.handleCast?.(message as never, state, this);
    if (op === 'info') return b.handleInfo?.(message as never, state, this);
    if (!b.handleCall) throw new ActorError(ActorErrorCode.NO_HANDLER, `${this.describe()} has no call handler`);
    return b.handleCall(message as never, state, this);
  }

  private replied(entry: PooledEntry, value: unknown): void {
    if (this.deferred === entry) {
      this.deferred = undefined;
      return;
    }
    entry.reply?.resolve(value);
  }

  deferReply(): DeferredReply<ReplyOf<P>> {
    const entry = this.current;
    // `current` outlives a synchronous handler (see its field): in handling means this cell is
    // running now, or awaits the async handler of `current`.
    const handling = running === (this as ActorCell<unknown, Protocol>) || this.busy;
    if (entry === undefined || !handling || entry.op !== 'call' || this.deferred === entry) {
      throw new ActorError(ActorErrorCode.NOT_IN_CALL, `${this.describe()}: deferReply() outside the handling of a call`);
    }
    this.deferred = entry;
    const pending = entry.reply;
    return {
      resolve: (value) => pending?.resolve(value),
      reject: (error) => pending?.reject(error),
    };
  }

  private resume(): void {
    if (this.status === 'running' && this.mailbox.depth > 0) this.host.scheduler.enqueue(this);
  }

  private failed(entry: PooledEntry, err: unknown): void {
    if (this.deferred === entry) this.deferred = undefined;
    if (err instanceof ActorError && err.code === ActorErrorCode.NO_HANDLER) {
      entry.reply?.reject(err);
      return;
    }
    entry.reply?.reject(new ActorError(ActorErrorCode.CRASHED, `${this.describe()} crashed handling a ${entry.op}`, { cause: err }));
    if (this.status === 'running') this.crash(err);
  }

  private crash(err: unknown): void {
    this.host.report(err, 'handler', this.address);
    const delay = (this.restarts ??= new RestartTracker(this.supervision)).onCrash(this.host.clock.now());
    if (delay === undefined) {
      this.stop({ type: 'crash', error: err });
      return;
    }
    this.status = 'restarting';
    this.state = undefined;
    this.clearTimers();
    this.host.emit({ type: 'restart', address: this.address, error: err, delayMs: delay });
    const timers = (this.timers ??= new Set());
    const timer = this.host.clock.setTimeout(() => {
      timers.delete(timer);
      if (this.status !== 'restarting') return;
      this.status = 'starting';
      this.host.scheduler.enqueue(this);
    }, delay);
    timers.add(timer);
  }

  sendAfter(ms: number, info: InfoOf<P>): () => void {
    const timers = (this.timers ??= new Set());
    const timer = this.host.clock.setTimeout(() => {
      timers.delete(timer);
      this.ref.send(info);
    }, ms);
    timers.add(timer);
    return () => {
      if (timers.delete(timer)) this.host.clock.clearTimeout(timer);
    };
  }

  private clearTimers(): void {
    const timers = this.timers;
    if (timers === undefined) return;
    for (const t of timers) this.host.clock.clearTimeout(t);
    timers.clear();
  }
}
