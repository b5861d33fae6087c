import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { UserCache } from '../../../server/rest/user-cache.js';
import { type SqlStore, openSqlStore } from '../../../server/store/sql-store.js';
import { SQLITE_OPTIONS } from '../../support/sqlite.js';

// The real store, with its reads counted: the cache's point is the reads it saves.
describe('UserCache', () => {
  let store: SqlStore;
  let reads: number;
  const counted = { getUser: (id: string) => (reads++, store.getUser(id)) };

  beforeEach(async () => {
    store = await openSqlStore({ kind: 'sqlite', path: ':memory:' }, SQLITE_OPTIONS);
    reads = 0;
  });
  afterEach(async () => {
    await store.close();
  });

  it('reads a user once, then answers from memory', async () => {
    const alice = await store.createUser({ username: 'alice' });
    const cache = new UserCache(counted);
    expect(await cache.get(alice.id)).toEqual(alice);
    expect(await cache.get(alice.id)).toEqual(alice);
    expect(reads).toBe(1);
  });

  it('does not remember a miss: a user created later is found', async () => {
    const cache = new UserCache(counted);
    expect(await cache.get('999999999999999999')).toBeUndefined();
    const bob = await store.createUser({ username: 'bob' });
    expect(await cache.get(bob.id)).toEqual(bob);
    expect(cache.size).toBe(1);
  });

  it('keeps at most `max` users, forgetting the oldest first', async () => {
    const users = [];
    for (let i = 0; i < 4; i++) users.push(await store.createUser({ username: `u${i}` }));
    const cache = new UserCache(counted, 3);
    for (const u of users) await cache.get(u.id);
    expect(cache.size).toBe(3);
    expect(reads).toBe(4);
    await cache.get(users[3]!.id); // newest: still cached
    expect(reads).toBe(4);
    await cache.get(users[0]!.id); // oldest: was forgotten, read again
    expect(reads).toBe(5);
  });
});
