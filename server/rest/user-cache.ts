// The authenticated user of a REST request, without a database read each
// time. A user record never changes once created (there is no route that
// edits or deletes one), so a cached record is never stale; only a miss
// ("no such user") is not kept, since the user may be created a moment later.
// Bounded: past `max` entries the oldest inserted is forgotten.
import type { Store, UserRecord } from '../store/store.js';

/** About 300 bytes per cached user: 20,000 users is a few MiB. */
export const DEFAULT_USER_CACHE_SIZE = 20_000;

export class UserCache {
  private readonly users = new Map<string, UserRecord>();

  constructor(
    private readonly store: Pick<Store, 'getUser'>,
    private readonly max: number = DEFAULT_USER_CACHE_SIZE,
  ) {}

  /** The user, from memory when seen before; otherwise read (and kept if found). */
  async get(id: string): Promise<UserRecord | undefined> {
    const cached = this.users.get(id);
    if (cached !== undefined) return cached;
    const user = await this.store.getUser(id);
    if (user === undefined) return undefined;
    if (this.users.size >= this.max) this.users.delete(this.users.keys().next().value as string);
    this.users.set(id, user);
    return user;
  }

  get size(): number {
    return this.users.size;
  }
}
