// Group commit on the real SQL store (SQLite :memory:). The store is wrapped
// only to hold a commit open or to fail one, so the test decides when batches
// form instead of racing the clock.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { StoreError, isStoreError } from '../../../server/store/errors.js';
import { type SqlStore, openSqlStore } from '../../../server/store/sql-store.js';
import { SQLITE_OPTIONS } from '../../support/sqlite.js';
import type { GuildWrite, MessageRecord, WriteOutcome } from '../../../server/store/store.js';
import { WriteBatcher } from '../../../server/store/write-batcher.js';

let store: SqlStore;
let channelId: string;
let guildId: string;
let authorId: string;

beforeEach(async () => {
  store = await openSqlStore({ kind: 'sqlite', path: ':memory:' }, SQLITE_OPTIONS);
  const author = await store.createUser({ username: 'author' });
  const guild = await store.createGuild({ name: 'g', owner_id: author.id });
  authorId = author.id;
  guildId = guild.id;
  channelId = (await store.listChannels(guild.id))[0]!.id;
});

afterEach(async () => {
  await store.close();
});

/** The real store, recording each transaction's size, with commits held until released. */
function gated() {
  const batches: number[] = [];
  let held: Promise<void> | undefined;
  let release: () => void = () => {};
  let failNext: unknown;
  return {
    batches,
    hold() {
      held = new Promise((r) => (release = r));
    },
    release: () => release(),
    failNext(err: unknown) {
      failNext = err;
    },
    applyWrites: async (writes: readonly GuildWrite[]): Promise<WriteOutcome[]> => {
      batches.push(writes.length);
      if (held) await held;
      held = undefined;
      if (failNext !== undefined) {
        const err = failNext;
        failNext = undefined;
        throw err;
      }
      return store.applyWrites(writes);
    },
  };
}

const post = (content: string): GuildWrite => ({
  kind: 'create_message',
  id: store.ids.next(),
  channel_id: channelId,
  guild_id: guildId,
  author_id: authorId,
  content,
});

describe('WriteBatcher', () => {
  it('commits writes that arrive while a transaction is in flight as the next batch, and settles them in order', async () => {
    const db = gated();
    const batcher = new WriteBatcher({ store: db });
    db.hold();
    const first = batcher.submit(post('first'));
    await new Promise((r) => setImmediate(r));
    expect(db.batches).toEqual([1]);
    const settled: string[] = [];
    const rest = Array.from({ length: 50 }, (_, i) =>
      batcher.submit(post(`m${i}`)).then((o) => {
        settled.push(((o as { ok: true; value: MessageRecord }).value).content);
      }),
    );
    expect(batcher.queued).toBe(50);
    db.release();
    await Promise.all([first, ...rest]);
    expect(db.batches).toEqual([1, 50]);
    expect(settled).toEqual(Array.from({ length: 50 }, (_, i) => `m${i}`));
    const stored = await store.listMessages(channelId, { limit: 100 });
    expect(stored.map((m) => m.content).reverse()).toEqual(['first', ...settled]);
  });

  it('puts writes made in the same I/O turn in one transaction, and splits at maxBatch', async () => {
    const db = gated();
    const batcher = new WriteBatcher({ store: db, maxBatch: 8 });
    await Promise.all(Array.from({ length: 20 }, (_, i) => batcher.submit(post(`x${i}`))));
    expect(db.batches).toEqual([8, 8, 4]);
  });

  it('commits at the end of the task that submitted, not a turn of the event loop later', async () => {
    // The scheduler's drain is an immediate; what it queues with setImmediate runs only after the
    // next poll phase. Here an immediate queued before the submits stands for that next turn.
    const batcher = new WriteBatcher({ store });
    const order: string[] = [];
    await new Promise<void>((done) =>
      setImmediate(() => {
        setImmediate(() => {
          order.push('next turn');
          done();
        });
        for (let i = 0; i < 3; i++) void batcher.submit(post(`t${i}`)).then(() => order.push(`committed t${i}`));
      }),
    );
    await batcher.drained();
    expect(order).toEqual(['committed t0', 'committed t1', 'committed t2', 'next turn']);
    expect((await store.listMessages(channelId, { limit: 10 })).map((m) => m.content).reverse()).toEqual(['t0', 't1', 't2']);
  });

  it('a domain failure answers only its own write; the rest of the batch commits', async () => {
    const db = gated();
    const batcher = new WriteBatcher({ store: db });
    const outcomes = await Promise.all([
      batcher.submit(post('kept')),
      batcher.submit({ kind: 'update_message', channel_id: channelId, message_id: '123456789', content: 'x', edited_timestamp: new Date().toISOString() }),
      batcher.submit(post('also kept')),
    ]);
    expect(db.batches).toEqual([3]);
    expect(outcomes.map((o) => o.ok)).toEqual([true, false, true]);
    expect(outcomes[1]!.ok === false && outcomes[1]!.error.code).toBe('UNKNOWN_MESSAGE');
    expect((await store.listMessages(channelId)).map((m) => m.content)).toEqual(['also kept', 'kept']);
  });

  it('an infrastructure failure rejects every write of the batch with its StoreError, and the next batch goes on', async () => {
    const db = gated();
    const commits: [number, boolean][] = [];
    const batcher = new WriteBatcher({ store: db, onCommit: (size, _ms, ok) => commits.push([size, ok]) });
    db.failNext(new StoreError('UNAVAILABLE', 'connection lost'));
    const failed = await Promise.allSettled([batcher.submit(post('a')), batcher.submit(post('b'))]);
    for (const r of failed) expect(r.status === 'rejected' && isStoreError(r.reason, 'UNAVAILABLE')).toBe(true);
    const ok = await batcher.submit(post('c'));
    expect(ok.ok).toBe(true);
    expect(commits).toEqual([
      [2, false],
      [1, true],
    ]);
    expect((await store.listMessages(channelId)).map((m) => m.content)).toEqual(['c']);
  });

  it('refuses at once with UNAVAILABLE past maxQueued instead of growing, and counts it', async () => {
    const db = gated();
    const batcher = new WriteBatcher({ store: db, maxQueued: 3 });
    db.hold();
    const inFlight = batcher.submit(post('in flight'));
    await new Promise((r) => setImmediate(r));
    const queued = [batcher.submit(post('q1')), batcher.submit(post('q2')), batcher.submit(post('q3'))];
    await expect(batcher.submit(post('one too many'))).rejects.toSatisfy((e) => isStoreError(e, 'UNAVAILABLE'));
    expect(batcher.refused).toBe(1);
    db.release();
    await Promise.all([inFlight, ...queued]);
    await batcher.drained();
    expect((await store.listMessages(channelId)).length).toBe(4);
  });

  it('drained() waits for every submitted write', async () => {
    const db = gated();
    const batcher = new WriteBatcher({ store: db });
    db.hold();
    let done = 0;
    for (let i = 0; i < 5; i++) void batcher.submit(post(`d${i}`)).then(() => done++);
    const drained = batcher.drained().then(() => done);
    await new Promise((r) => setImmediate(r));
    db.release();
    expect(await drained).toBe(5);
  });
});
