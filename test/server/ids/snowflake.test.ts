import { describe, expect, it } from 'vitest';
import {
  DISCORD_EPOCH,
  SNOWFLAKE_SLOTS,
  SnowflakeGenerator,
  compareSnowflakes,
  isSnowflake,
  snowflakeAt,
  timestampOf,
} from '../../../server/ids/snowflake.js';

const T0 = Date.UTC(2025, 0, 1);

function fields(id: string) {
  const n = BigInt(id);
  return {
    ms: Number(n >> 22n),
    worker: Number((n >> 17n) & 0x1fn),
    process: Number((n >> 12n) & 0x1fn),
    increment: Number(n & 0xfffn),
  };
}

describe('SnowflakeGenerator', () => {
  it('packs timestamp, worker, process and increment as Discord does', () => {
    const gen = new SnowflakeGenerator({ clock: () => T0, workerId: 3, processId: 17 });
    const a = gen.next();
    const b = gen.next();
    expect(fields(a)).toEqual({ ms: T0 - DISCORD_EPOCH, worker: 3, process: 17, increment: 0 });
    expect(fields(b).increment).toBe(1);
    expect(timestampOf(a)).toBe(T0);
  });

  it('matches the worked example in the Discord docs', () => {
    // https://discord.com/developers/docs/reference#snowflakes: 175928847299117063
    expect(timestampOf('175928847299117063')).toBe(1462015105796);
    expect(fields('175928847299117063')).toMatchObject({ worker: 1, process: 0, increment: 7 });
  });

  it('produces decimal strings', () => {
    const id = new SnowflakeGenerator({ clock: () => T0 }).next();
    expect(id).toMatch(/^[1-9]\d{17,19}$/);
  });

  it('resets the increment when the millisecond changes', () => {
    let now = T0;
    const gen = new SnowflakeGenerator({ clock: () => now });
    gen.next();
    gen.next();
    now += 1;
    expect(fields(gen.next())).toMatchObject({ ms: T0 + 1 - DISCORD_EPOCH, increment: 0 });
  });

  it('stays strictly increasing past 4096 ids in one millisecond', () => {
    const gen = new SnowflakeGenerator({ clock: () => T0 });
    let prev = gen.next();
    for (let i = 0; i < 10_000; i++) {
      const id = gen.next();
      expect(compareSnowflakes(prev, id)).toBeLessThan(0);
      prev = id;
    }
    // 10_001 ids at 4096 per ms borrow two milliseconds from the future.
    expect(timestampOf(prev)).toBe(T0 + 2);
  });

  it('stays strictly increasing when the clock goes backwards', () => {
    let now = T0;
    const gen = new SnowflakeGenerator({ clock: () => now });
    const a = gen.next();
    now -= 5_000;
    const b = gen.next();
    const c = gen.next();
    expect(compareSnowflakes(a, b)).toBeLessThan(0);
    expect(compareSnowflakes(b, c)).toBeLessThan(0);
    expect(timestampOf(b)).toBe(T0);
    now = T0 + 10;
    expect(timestampOf(gen.next())).toBe(T0 + 10);
  });

  it('continues after an id of an earlier run, whoever made it and whatever the clock says now', () => {
    // The earlier run was another worker, at the end of its sequence, an hour ahead of our clock.
    const earlier = new SnowflakeGenerator({ workerId: 31, processId: 31, clock: () => T0 + 3_600_000 });
    let last = earlier.next();
    for (let i = 0; i < 5000; i++) last = earlier.next();
    const ids = new SnowflakeGenerator({ clock: () => T0, after: last });
    const next = ids.next();
    expect(compareSnowflakes(next, last)).toBeGreaterThan(0);
    expect(compareSnowflakes(ids.next(), next)).toBeGreaterThan(0);
    // Once the clock passes the old ids, ids follow the clock again.
    let now = T0;
    const later = new SnowflakeGenerator({ clock: () => now, after: snowflakeAt(T0 - 1000) });
    expect(timestampOf(later.next())).toBe(T0);
    now = T0 + 5;
    expect(timestampOf(later.next())).toBe(T0 + 5);
  });

  it('rejects an `after` that is not a snowflake', () => {
    expect(() => new SnowflakeGenerator({ after: '-1' })).toThrow(RangeError);
  });

  it('floors fractional clocks', () => {
    const gen = new SnowflakeGenerator({ clock: () => T0 + 0.9 });
    expect(timestampOf(gen.next())).toBe(T0);
  });

  it('rejects out-of-range worker and process ids', () => {
    expect(() => new SnowflakeGenerator({ workerId: 32 })).toThrow(RangeError);
    expect(() => new SnowflakeGenerator({ processId: -1 })).toThrow(RangeError);
    expect(() => new SnowflakeGenerator({ workerId: 1.5 })).toThrow(RangeError);
  });

  it('makes ids with the slot it is given (worker * 32 + process), still strictly increasing', () => {
    const gen = new SnowflakeGenerator({ clock: () => T0 });
    expect(gen.slot).toBe(0);
    const before = [gen.next(), gen.next()];
    gen.useSlot(1 * 32 + 2);
    expect(gen.slot).toBe(34);
    const after = gen.next();
    // Slot 34 in the same millisecond would sort among slot 0's ids: it takes the next one.
    expect(fields(after)).toEqual({ ms: T0 - DISCORD_EPOCH + 1, worker: 1, process: 2, increment: 0 });
    expect(compareSnowflakes(before[1]!, after)).toBeLessThan(0);
    // Two generators on different slots never make the same id, even in the same millisecond.
    const other = new SnowflakeGenerator({ clock: () => T0 + 1 });
    other.useSlot(35);
    expect(other.next()).not.toBe(after);
    gen.useSlot(34);
    expect(fields(gen.next()).increment).toBe(1);
    expect(() => gen.useSlot(SNOWFLAKE_SLOTS)).toThrow(RangeError);
    expect(() => gen.useSlot(-1)).toThrow(RangeError);
  });

  it('refuses a clock before the Discord epoch', () => {
    const gen = new SnowflakeGenerator({ clock: () => DISCORD_EPOCH - 1 });
    expect(() => gen.next()).toThrow(RangeError);
  });

  it('uses the real clock by default', () => {
    const before = Date.now();
    const id = new SnowflakeGenerator().next();
    expect(timestampOf(id)).toBeGreaterThanOrEqual(before);
    expect(timestampOf(id)).toBeLessThanOrEqual(Date.now());
  });
});

describe('snowflake helpers', () => {
  it('isSnowflake accepts canonical 64-bit decimals only', () => {
    expect(isSnowflake('175928847299117063')).toBe(true);
    expect(isSnowflake('0')).toBe(true);
    expect(isSnowflake('18446744073709551615')).toBe(true);
    expect(isSnowflake('18446744073709551616')).toBe(false);
    expect(isSnowflake('0123')).toBe(false);
    expect(isSnowflake('-1')).toBe(false);
    expect(isSnowflake('12a')).toBe(false);
    expect(isSnowflake('')).toBe(false);
    expect(isSnowflake(123)).toBe(false);
  });

  it('snowflakeAt gives the smallest id of a millisecond', () => {
    const id = snowflakeAt(T0);
    expect(timestampOf(id)).toBe(T0);
    expect(fields(id)).toMatchObject({ worker: 0, process: 0, increment: 0 });
    const gen = new SnowflakeGenerator({ clock: () => T0, workerId: 1 });
    expect(compareSnowflakes(id, gen.next())).toBeLessThan(0);
    expect(() => snowflakeAt(DISCORD_EPOCH - 1)).toThrow(RangeError);
  });

  it('compareSnowflakes orders numerically, not lexically', () => {
    expect(compareSnowflakes('9', '10')).toBeLessThan(0);
    expect(compareSnowflakes('10', '9')).toBeGreaterThan(0);
    expect(compareSnowflakes('175928847299117063', '175928847299117063')).toBe(0);
    const ids = ['100', '20', '3', '1000'];
    expect(ids.sort(compareSnowflakes)).toEqual(['3', '20', '100', '1000']);
  });
});
