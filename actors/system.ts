// The actor system: spawns actors, owns the registry, and is the relay point
// every message passes through (local delivery, or a remote router in cluster mode).
import { ActorCell, type ActorEvent, type ActorStatus, type CellHost, type DownListener } from './actor-cell.js';
import type { Behaviour, Protocol, StopReason } from './behaviour.js';
import { type Clock, systemClock } from './clock.js';
import { ActorError, ActorErrorCode } from './errors.js';
import { DEFAULT_MAILBOX_CAPACITY, type MessageOp, type OverflowPolicy, type PendingReply } from './mailbox.js';
import { ActorRef, type Address, type Router } from './ref.js';
import { type BroadcastOptions, type BroadcastResult, Relay } from './relay.js';
import { Scheduler, type SchedulerOptions } from './scheduler.js';
import { DEFAULT_SUPERVISION, type SupervisionPolicy } from './supervision.js';

export interface SpawnOptions {
  /** Registry key; also the actor's id. A taken key makes `spawn` throw. */
  key?: string;
  mailbox?: { capacity?: number; overflow?: OverflowPolicy };
  supervision?: Partial<SupervisionPolicy>;
}

export interface ActorSystemOptions {
  /** This node's name, part of every address. */
  node?: string;
  clock?: Clock;
  /** Default `call` timeout in milliseconds. */
  callTimeoutMs?: number;
  scheduler?: SchedulerOptions;
  /** Told of every handler crash and every error in terminate or monitors. */
  onError?: (error: unknown, where: string, address: Address) => void;
}

/** Delivers to actors on other nodes; installed by a cluster adapter (cluster/remote-router.ts). */
export interface RemoteRouter {
  /** One prepared payload (bare or enveloped) for `target`; a `call` settles `reply`. */
  route(target: Address, op: MessageOp, payload: unknown, reply?: PendingReply): boolean;
  /**
   * Deliveries routed between these two belong to one broadcast: they leave
   * as one message per remote node, the payload once with that node's targets
   * (Discord's Manifold).
   */
  beginBroadcast(): void;
  endBroadcast(): void;
  /** Calls `listener` once when the remote actor stops, or its node is gone. */
  monitor(address: Address, listener: DownListener): () => void;
}

/**
 * Starts actors on demand: asked about a message for a key no actor runs,
 * before it is refused. Cluster mode uses it for guild placement (the home
 * node acquires the guild's lease, then spawns it). Only the miss path calls
 * it: a message for a running actor never does.
 */
export interface Activator {
  /**
   * True or false: the activator took the message (and settles `reply`), and
   * says whether it was accepted. Undefined: not one of its keys; the system
   * refuses the message as usual.
   */
  activate(target: Address, op: MessageOp, payload: unknown, reply?: PendingReply): boolean | undefined;
}

export interface ActorStats {
  kind: string;
  status: ActorStatus;
  depth: number;
  dropped: number;
  restarts: number;
}

/** One running actor as the actor top shows it (see actor-load.ts). */
export interface ActorLoadRow {
  address: Address;
  status: ActorStatus;
  depth: number;
  /** Age of the oldest waiting message in ms (0 when none waits). */
  oldestWaitMs: number;
  restarts: number;
  dropped: number;
  /** Over the last minute (or the actor's life when shorter). */
  handled: number;
  perSecond: number;
  waitP99Ms: number;
  /** Milliseconds spent handling in the window. */
  busyMs: number;
  /** Milliseconds of handling per second right now (older seconds fade by half each second). */
  busyNow: number;
}

// A local actor's address also holds its cell, under a symbol and not
// enumerable (invisible to JSON, the cluster codec, Object.keys and equality
// checks), so a delivery to a live local actor skips the registry lookup:
// at thousands of sessions per broadcast that lookup's hash table and key
// string are memory each delivery would otherwise have to touch.
const CELL = Symbol('guildhall.actors.cell');

/** Deliveries of one broadcast that share one clock reading as their enqueue time (see enqueueTime). */
export const SHARE_READING = 16;
type LocalAddress = Address & { readonly [CELL]?: ActorCell<unknown, Protocol> };

export class ActorSystem implements Router, CellHost {
  readonly node: string;
  readonly clock: Clock;
  readonly relay: Relay = new Relay(this);
  readonly scheduler: Scheduler;
  readonly callTimeoutMs: number;
  remote: RemoteRouter | undefined;
  /** Consulted when a local target is not running (see Activator). */
  activator: Activator | undefined;
  private readonly cells = new Map<string, ActorCell<unknown, Protocol>>();
  private readonly listeners = new Set<(event: ActorEvent) => void>();
  private readonly onError: NonNullable<ActorSystemOptions['onError']>;
  private seq = 0;
  /** Broadcasts in progress (one, unless a delivery's hook broadcasts too). */
  private broadcasting = 0;
  /** While broadcasting: deliveries that may still take `sharedAt` as their enqueue time. */
  private shareLeft = 0;
  private sharedAt = 0;

  constructor(options: ActorSystemOptions = {}) {
    this.node = options.node ?? 'local';
    this.clock = options.clock ?? systemClock;
    this.callTimeoutMs = options.callTimeoutMs ?? 5_000;
    this.scheduler = new Scheduler(options.scheduler);
    this.onError =
      options.onError ??
      ((error, where, address) => {
        process.emitWarning(`actor ${address.kind}:${address.id} failed in ${where}: ${String((error as Error)?.stack ?? error)}`);
      });
  }

  spawn<S, P extends Protocol>(behaviour: Behaviour<S, P>, options: SpawnOptions = {}): ActorRef<P> {
    const id = options.key ?? `${behaviour.kind}-${++this.seq}`;
    if (this.cells.has(id)) throw new ActorError(ActorErrorCode.INVALID_SPAWN, `an actor with key ${id} is already running`);
    const capacity = options.mailbox?.capacity ?? DEFAULT_MAILBOX_CAPACITY;
    const overflow = options.mailbox?.overflow ?? 'reject';
    // Shared when not overridden: one copy per actor is memory every idle session would keep.
    const supervision = options.supervision === undefined ? DEFAULT_SUPERVISION : { ...DEFAULT_SUPERVISION, ...options.supervision };
    // The cell's slot is in the literal, so that V8 gives the object room for it in place: added
    // afterwards, it went to a separate property array, one more object every delivery reads.
    // defineProperty then makes it non-enumerable, read-only and fixed, as if only defined there.
    const address: Address = { node: this.node, id, kind: behaviour.kind, [CELL]: undefined } as Address;
    const ref = new ActorRef<P>(address, this);
    const cell = new ActorCell<S, P>(this, address, ref, behaviour, capacity, overflow, supervision);
    this.cells.set(id, cell as unknown as ActorCell<unknown, Protocol>);
    Object.defineProperty(address, CELL, { value: cell, enumerable: false, writable: false, configurable: false });
    return ref;
  }

  /** The actor registered under `key`, spawning it first if there is none. Never makes two. */
  spawnOnce<S, P extends Protocol>(key: string, behaviour: Behaviour<S, P>, options: Omit<SpawnOptions, 'key'> = {}): ActorRef<P> {
    const existing = this.cells.get(key);
    if (existing) return existing.ref as unknown as ActorRef<P>;
    return this.spawn(behaviour, { ...options, key });
  }

  whereis<P extends Protocol = Protocol>(key: string): ActorRef<P> | undefined {
    return this.cells.get(key)?.ref as ActorRef<P> | undefined;
  }

  /** A ref for any address, local or remote, alive or not. */
  refFor<P extends Protocol = Protocol>(address: Address): ActorRef<P> {
    // Only this node's actors are looked up: the same key may run on two nodes (a session moving between them).
    const local = address.node === this.node ? (this.cells.get(address.id)?.ref as ActorRef<P> | undefined) : undefined;
    return local ?? new ActorRef<P>(address, this);
  }

  stop(ref: ActorRef<Protocol> | ActorRef<never>, reason: StopReason = { type: 'normal' }): void {
    this.local((ref as ActorRef).address)?.stop(reason);
  }

  /** Calls `listener` once when the actor stops (at once, with `noproc`, if it is not running). */
  monitor(ref: ActorRef<never> | ActorRef<Protocol>, listener: DownListener): () => void {
    const address = (ref as ActorRef).address;
    if (address.node !== this.node && this.remote) return this.remote.monitor(address, listener);
    const cell = this.local(address);
    if (!cell) {
      queueMicrotask(() => listener({ type: 'noproc' }, address));
      return () => {};
    }
    return cell.monitor(listener);
  }

  inspect(ref: ActorRef<never> | ActorRef<Protocol>): ActorStats | undefined {
    const cell = this.local((ref as ActorRef).address);
    if (!cell) return undefined;
    return {
      kind: cell.address.kind,
      status: cell.status,
      depth: cell.mailbox.depth,
      dropped: cell.mailbox.dropped,
      restarts: cell.restartCount,
    };
  }

  /**
   * Every running actor's load right now, computed by walking the actors:
   * nothing is maintained per message beyond each cell's few counters.
   */
  loads(): ActorLoadRow[] {
    const now = this.clock.now();
    const rows: ActorLoadRow[] = [];
    for (const cell of this.cells.values()) {
      const oldest = cell.mailbox.peek();
      const load = cell.load.snapshot(now);
      rows.push({
        address: cell.address,
        status: cell.status,
        depth: cell.mailbox.depth,
        oldestWaitMs: oldest ? Math.max(0, now - oldest.enqueuedAt) : 0,
        restarts: cell.restartCount,
        dropped: cell.mailbox.dropped,
        handled: load.handled,
        perSecond: load.perSecond,
        waitP99Ms: load.waitP99Ms,
        busyMs: load.busyMs,
        busyNow: load.busyNow,
      });
    }
    return rows;
  }

  /** Every running actor's address. */
  addresses(): Address[] {
    return [...this.cells.values()].map((c) => c.address);
  }

  get size(): number {
    return this.cells.size;
  }

  /** Subscribes to restarts, stops and drops (for metrics and logs). */
  on(listener: (event: ActorEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Stops every actor with reason `shutdown`. */
  shutdown(): void {
    for (const cell of [...this.cells.values()]) cell.stop({ type: 'shutdown' });
  }

  // --- Router: the relay point ---

  route(target: Address, op: MessageOp, message: unknown, reply?: PendingReply): boolean {
    const payload = this.relay.outbound(message, target, op);
    return this.deliver(target, op, payload, reply);
  }

  /**
   * Sends `message` to every target through the relay: its fanout hook (the
   * Transport) decides each delivery's payload; deliveries to other nodes
   * leave as one message per node.
   */
  broadcast<P extends Protocol>(targets: readonly ActorRef<P>[], message: unknown, options: BroadcastOptions = {}): BroadcastResult {
    const op = options.op ?? 'cast';
    const remote = this.remote;
    remote?.beginBroadcast();
    this.broadcasting++;
    this.shareLeft = 0;
    try {
      return this.relay.broadcast(targets as readonly ActorRef<never>[], message, op, options);
    } finally {
      this.broadcasting--;
      this.shareLeft = 0;
      remote?.endBroadcast();
    }
  }

  /**
   * Runs `deliveries`, the deliveries of one broadcast whose relay ran on
   * another node (the remote router's receiving side, through `deliver`), as
   * this node runs its own broadcasts: sharing clock readings for their
   * enqueue time (see enqueueTime).
   */
  deliverBroadcast(deliveries: () => void): void {
    this.broadcasting++;
    this.shareLeft = 0;
    try {
      deliveries();
    } finally {
      this.broadcasting--;
      this.shareLeft = 0;
    }
  }

  /**
   * The enqueue time of a message sent now. A broadcast's deliveries are
   * enqueued in one tight loop, so one clock reading serves SHARE_READING of
   * them in a row: a delivery's wait then counts from at most that many
   * deliveries earlier in the loop (microseconds; the wait bins start at
   * 0.25 ms), and never from later, so enqueuedAt <= dequeuedAt still holds.
   * Any other send reads the clock.
   */
  enqueueTime(): number {
    if (this.broadcasting === 0) return this.clock.now();
    if (this.shareLeft === 0) {
      this.sharedAt = this.clock.now();
      this.shareLeft = SHARE_READING;
    }
    this.shareLeft--;
    return this.sharedAt;
  }

  /**
   * Enqueues an already-prepared payload without the relay's outbound hooks:
   * the relay's own sink, and the door for messages that passed a relay on
   * another node (the remote router's receiving side).
   */
  deliver(target: Address, op: MessageOp, payload: unknown, reply?: PendingReply): boolean {
    // The cell the address was made for, while it runs here (then the address is this node's). Kept
    // small: it is inlined into every send, and the rarer cases below would use up the inlining budget.
    const direct = (target as LocalAddress)[CELL];
    if (direct !== undefined && direct.alive && direct.hostedBy(this)) return direct.enqueue(op, payload, reply);
    return this.deliverElsewhere(target, op, payload, reply);
  }

  /** A remote target, an address made elsewhere, or an actor that is not running: whoever is registered under its id now. */
  private deliverElsewhere(target: Address, op: MessageOp, payload: unknown, reply: PendingReply | undefined): boolean {
    if (target.node !== this.node) {
      if (this.remote) return this.remote.route(target, op, payload, reply);
      reply?.reject(new ActorError(ActorErrorCode.STOPPED, `no route to node ${target.node}`));
      return false;
    }
    const cell = this.cells.get(target.id);
    if (!cell) {
      const taken = this.activator?.activate(target, op, payload, reply);
      if (taken !== undefined) return taken;
      reply?.reject(new ActorError(ActorErrorCode.STOPPED, `actor ${target.kind}:${target.id} is not running`));
      return false;
    }
    return cell.enqueue(op, payload, reply);
  }

  call(target: Address, message: unknown, timeoutMs: number = this.callTimeoutMs): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const clock = this.clock;
      const pending: PendingReply = {
        settled: false,
        resolve(value) {
          if (pending.settled) return;
          pending.settled = true;
          clock.clearTimeout(timer);
          resolve(value);
        },
        reject(error) {
          if (pending.settled) return;
          pending.settled = true;
          clock.clearTimeout(timer);
          reject(error);
        },
      };
      const timer = clock.setTimeout(
        () => pending.reject(new ActorError(ActorErrorCode.CALL_TIMEOUT, `call to ${target.kind}:${target.id} timed out after ${timeoutMs} ms`)),
        timeoutMs,
      );
      this.route(target, 'call', message, pending);
    });
  }

  // --- CellHost ---

  report(error: unknown, where: string, address: Address): void {
    try {
      this.onError(error, where, address);
    } catch {
      // A failing error hook must not take the system down.
    }
  }

  emit(event: ActorEvent): void {
    for (const l of this.listeners) {
      try {
        l(event);
      } catch (err) {
        this.report(err, 'event listener', event.address);
      }
    }
  }

  unregister(cell: ActorCell<unknown, Protocol>): void {
    if (this.cells.get(cell.address.id) === cell) this.cells.delete(cell.address.id);
  }

  private local(address: Address): ActorCell<unknown, Protocol> | undefined {
    return address.node === this.node ? this.cells.get(address.id) : undefined;
  }
}
