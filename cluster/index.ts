// Public API of the cluster layer: actors across processes over NATS, and the
// cluster's shared state in JetStream KV (membership, leases) with placement.
// Sits between tracing/ and server/: it may import both of those below it.
export { NatsRemoteRouter, type NatsRouterOptions, type RemoteStats } from './remote-router.js';
export { encodeValue, decodeValue, registerWireType, codecStats, type RefMaker, type WireType } from './codec.js';
export { NodeWatch, type NodeWatchOptions } from './node-watch.js';
export { WIRE_VERSION, subjects, type FrameItem, type FrameHeader } from './wire.js';
export { rendezvousHome } from './placement.js';
export { Membership, type MembershipOptions, type MembershipStats, type NodeInfo } from './membership.js';
export { LeaseTable, type AcquireResult, type LeaseOptions, type LeaseStats, type LostReason } from './leases.js';
export { SnowflakeSlots, type SnowflakeSlotsOptions, type SnowflakeSlotStats } from './snowflake-slots.js';
export { connectNats, type NatsConnection, type NatsConnectionOptions } from './nats-connection.js';
