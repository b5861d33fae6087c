// Discord snowflakes: 64-bit ids that sort by creation time.
// https://discord.com/developers/docs/reference#snowflakes
//
//   bits 63..22  milliseconds since the Discord epoch (2015-01-01T00:00:00Z)
//   bits 21..17  internal worker id
//   bits 16..12  internal process id
//   bits 11..0   increment, for ids made in the same millisecond
//
// On the wire they are decimal strings (JSON numbers lose precision past
// 2^53); internally BigInt does the bit work.

/** Milliseconds of 2015-01-01T00:00:00.000Z, the first second of 2015. */
export const DISCORD_EPOCH = 1420070400000;

const TIMESTAMP_SHIFT = 22n;
const WORKER_SHIFT = 17n;
const PROCESS_SHIFT = 12n;
const MAX_INCREMENT = 0xfff;
const MAX_TIMESTAMP = 2 ** 42 - 1;
const MAX_SNOWFLAKE = (1n << 64n) - 1n;

/**
 * Worker and process id together: 10 bits, so 1024 generators can make ids at
 * once without ever making the same one. A cluster gives each node its own
 * (cluster/snowflake-slots.ts); a single process uses slot 0.
 */
export const SNOWFLAKE_SLOTS = 1024;

export type Snowflake = string;

export interface SnowflakeOptions {
  /** 0..31. */
  workerId?: number;
  /** 0..31. */
  processId?: number;
  /** Wall-clock milliseconds since the Unix epoch; injectable for tests. Defaults to Date.now. */
  clock?: () => number;
  /** The largest id already handed out (by an earlier run): every id made here is greater. */
  after?: Snowflake;
}

/**
 * Hands out ids that strictly increase for this generator, even when the clock
 * steps backwards (NTP) or more than 4096 ids are asked for in one
 * millisecond: in both cases it borrows from the next millisecond rather than
 * repeat or go back. Messages are listed by id, so order must never break.
 */
export class SnowflakeGenerator {
  private readonly clock: () => number;
  private node: bigint;
  private lastMs = -1;
  private increment = 0;

  constructor(options: SnowflakeOptions = {}) {
    const workerId = options.workerId ?? 0;
    const processId = options.processId ?? 0;
    assertField('workerId', workerId);
    assertField('processId', processId);
    this.clock = options.clock ?? Date.now;
    this.node = (BigInt(workerId) << WORKER_SHIFT) | (BigInt(processId) << PROCESS_SHIFT);
    if (options.after !== undefined) {
      if (!isSnowflake(options.after)) throw new RangeError('after must be a snowflake');
      // Continue from the millisecond of `after` with the sequence used up: the next id takes the
      // millisecond after it (or the clock's, if later), so it sorts after `after` whatever
      // worker and process made that one, even if the clock now reads earlier than then.
      this.lastMs = Number(BigInt(options.after) >> TIMESTAMP_SHIFT);
      this.increment = MAX_INCREMENT;
    }
  }

  /** Worker and process id as one number, 0..1023 (worker * 32 + process). */
  get slot(): number {
    return Number(this.node >> PROCESS_SHIFT);
  }

  /**
   * Makes ids as slot `slot` (worker * 32 + process) from now on: a cluster
   * node takes the slot it holds. The next id takes the next millisecond, so
   * ids still strictly increase (a lower slot in the same millisecond would
   * sort before the ids already made in it).
   */
  useSlot(slot: number): void {
    if (!Number.isInteger(slot) || slot < 0 || slot >= SNOWFLAKE_SLOTS) throw new RangeError(`slot must be an integer in 0..${SNOWFLAKE_SLOTS - 1}`);
    if (BigInt(slot) << PROCESS_SHIFT === this.node) return;
    this.node = BigInt(slot) << PROCESS_SHIFT;
    if (this.lastMs >= 0) this.increment = MAX_INCREMENT;
  }

  next(): Snowflake {
    const now = Math.floor(this.clock()) - DISCORD_EPOCH;
    if (now < 0) throw new RangeError('clock is before the Discord epoch (2015-01-01)');
    if (now > this.lastMs) {
      this.lastMs = now;
      this.increment = 0;
    } else if (this.increment < MAX_INCREMENT) {
      this.increment++;
    } else {
      // Sequence exhausted (or clock went back): move our own notion of time forward.
      this.lastMs++;
      this.increment = 0;
    }
    if (this.lastMs > MAX_TIMESTAMP) throw new RangeError('snowflake timestamp overflow');
    return ((BigInt(this.lastMs) << TIMESTAMP_SHIFT) | this.node | BigInt(this.increment)).toString();
  }
}

function assertField(name: string, value: number): void {
  if (!Number.isInteger(value) || value < 0 || value > 31) throw new RangeError(`${name} must be an integer in 0..31`);
}

/** Whether `value` is a decimal snowflake (no sign, no leading zeros, fits in 64 bits). */
export function isSnowflake(value: unknown): value is Snowflake {
  if (typeof value !== 'string' || !/^(0|[1-9]\d{0,19})$/.test(value)) return false;
  return BigInt(value) <= MAX_SNOWFLAKE;
}

/** Unix milliseconds at which the id was made. */
export function timestampOf(id: Snowflake): number {
  return Number(BigInt(id) >> TIMESTAMP_SHIFT) + DISCORD_EPOCH;
}

/**
 * The smallest id of a given Unix millisecond. Discord accepts these in
 * `before`/`after` to page by time (https://discord.com/developers/docs/reference#snowflake-ids-in-pagination).
 */
export function snowflakeAt(unixMs: number): Snowflake {
  const ms = Math.floor(unixMs) - DISCORD_EPOCH;
  if (ms < 0 || ms > MAX_TIMESTAMP) throw new RangeError('time outside the snowflake range');
  return (BigInt(ms) << TIMESTAMP_SHIFT).toString();
}

/** Numeric order of two decimal ids without allocating BigInts (canonical decimals: longer is larger). */
export function compareSnowflakes(a: Snowflake, b: Snowflake): number {
  if (a.length !== b.length) return a.length - b.length;
  return a < b ? -1 : a > b ? 1 : 0;
}
