// Which snowflake slot (worker and process id, 10 bits) each node makes ids
// with. Two nodes on one slot make the same id whenever both make one in the
// same millisecond at the same increment: messages of two busy guilds on two
// nodes then collide on PostgreSQL's primary key and a whole commit fails. So
// each node holds a lease on its slot, in the KV bucket `${cluster}-id-slots`,
// with the same partition-safe table as the guilds' (cluster/leases.ts).
//
// A node claims a free slot before it serves anything, starting at a random
// one (few nodes, so the first try nearly always wins). Slot 0 is never
// claimed: it is a single process's, and a node's before it holds one. A slot lost (not
// renewed in time: cut off from NATS) is claimed again, another if need be,
// once NATS answers; until then the node goes on with the old slot, which is
// safe only because a node cut off from NATS has lost its guild leases too
// (the same expiry), so it makes no message ids, and the database's primary
// key refuses any id that would repeat. A slot freed by a dead node is taken
// only after its entry expired, and ids carry the millisecond they were made,
// so the next holder cannot repeat an id of the last.
import { LeaseTable } from './leases.js';
import type { NatsConnection } from '@nats-io/transport-node';

export interface SnowflakeSlotsOptions {
  nats: NatsConnection;
  /** Names the bucket: `${cluster}-id-slots`. */
  cluster: string;
  /** This node's id, written as the holder. */
  node: string;
  /** How many slots there are (snowflakes: 1024); 1 to slots - 1 are claimed. */
  slots: number;
  /** Makes ids with `slot` from now on (called once claimed, and again after a slot lost is claimed anew). */
  use: (slot: number) => void;
  /** Entry expiry (default: the lease table's, 6000). */
  ttlMs?: number;
  /** Where the search for a free slot starts, as a fraction in [0, 1) (default Math.random). */
  random?: () => number;
  /** Told when claiming again after a loss failed (tried again after ttl / 3). */
  onError?: (err: unknown) => void;
}

export interface SnowflakeSlotStats {
  /** The slot in use. */
  slot: number;
  /** Slots lost (not renewed in time) since start. */
  lost: number;
}

export class SnowflakeSlots {
  private current = -1;
  private lostCount = 0;
  private closed = false;
  private retry: NodeJS.Timeout | undefined;

  private constructor(
    private readonly table: LeaseTable,
    private readonly options: SnowflakeSlotsOptions,
  ) {
    table.onLost((key) => {
      if (Number(key) !== this.current) return;
      this.lostCount++;
      void this.reclaim();
    });
  }

  /** Opens the bucket and claims a free slot; rejects when every slot is held or NATS does not answer. */
  static async claim(options: SnowflakeSlotsOptions): Promise<SnowflakeSlots> {
    if (!(Number.isInteger(options.slots) && options.slots > 1)) throw new RangeError(`slots must be an integer > 1 (slot 0 is never claimed), got ${options.slots}`);
    const table = await LeaseTable.open({ nats: options.nats, cluster: options.cluster, bucket: 'id-slots', node: options.node, ttlMs: options.ttlMs });
    const slots = new SnowflakeSlots(table, options);
    try {
      await slots.claimOne();
    } catch (err) {
      await table.close();
      throw err;
    }
    return slots;
  }

  get stats(): SnowflakeSlotStats {
    return { slot: this.current, lost: this.lostCount };
  }

  /** Stops renewing: the slot's entry expires by itself, after which another node may take it. */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.retry);
    await this.table.close();
  }

  private async claimOne(): Promise<void> {
    const { slots, random = Math.random } = this.options;
    const claimable = slots - 1;
    const start = Math.min(claimable - 1, Math.floor(random() * claimable));
    for (let i = 0; i < claimable; i++) {
      const slot = 1 + ((start + i) % claimable);
      if ((await this.table.acquire(String(slot))).ok) {
        this.current = slot;
        this.options.use(slot);
        return;
      }
    }
    throw new Error(`all ${claimable} snowflake slots of cluster ${this.options.cluster} are held: at most ${claimable} nodes can run at once`);
  }

  private async reclaim(): Promise<void> {
    if (this.closed) return;
    try {
      await this.claimOne();
    } catch (err) {
      if (this.closed) return;
      this.options.onError?.(err);
      this.retry = setTimeout(() => void this.reclaim(), Math.max(100, Math.floor(this.table.ttlMs / 3)));
    }
  }
}
