// Public API of the actor runtime. Knows nothing of guilds or OpenTelemetry.
export { ActorSystem, SHARE_READING, type Activator, type ActorSystemOptions, type ActorStats, type ActorLoadRow, type RemoteRouter, type SpawnOptions } from './system.js';
export { ActorRef, type Address, type CallOptions, type Router } from './ref.js';
export type { ActorContext, Behaviour, CallOf, CastOf, DeferredReply, InfoOf, Protocol, ReplyOf, StopReason } from './behaviour.js';
export type { ActorEvent, ActorStatus, DownListener, DownReason } from './actor-cell.js';
export { Envelope, isEnvelope, unwrap, type Carrier, type Hints } from './envelope.js';
export { ActorError, ActorErrorCode, isActorError } from './errors.js';
export { Mailbox, DEFAULT_MAILBOX_CAPACITY, type MailboxEntry, type MessageOp, type OverflowPolicy, type PendingReply } from './mailbox.js';
export { Relay, type BroadcastOptions, type BroadcastResult, type DeliverySink, type Handle, type InboundNext, type Interceptor, type RelayHost, type SlowWatcher } from './relay.js';
export { ActorLoad, LOAD_BUCKETS, LOAD_BUCKET_MS, LOAD_WINDOW_MS, WAIT_BIN_BOUNDS_MS, type LoadSnapshot } from './actor-load.js';
export { Scheduler, type SchedulerOptions } from './scheduler.js';
export { DEFAULT_SUPERVISION, RestartTracker, type SupervisionPolicy } from './supervision.js';
export { ManualClock, systemClock, type Clock, type TimerHandle } from './clock.js';
