// StoreErrors become Discord's errors here and nowhere else.
import { afterEach, describe, expect, it } from 'vitest';
import { RestErrors, isHttpError } from '../../../server/errors.js';
import { toHttpError } from '../../../server/rest/error-handler.js';
import { StoreError, type StoreErrorCode } from '../../../server/store/errors.js';
import { type TestServer, startTestServer } from '../../support/server.js';

describe('toHttpError for StoreErrors', () => {
  it.each<[StoreErrorCode, number, number]>([
    ['UNKNOWN_CHANNEL', 404, 10003],
    ['UNKNOWN_GUILD', 404, 10004],
    ['UNKNOWN_MEMBER', 404, 10007],
    ['UNKNOWN_MESSAGE', 404, 10008],
    ['UNKNOWN_USER', 404, 10013],
    ['MAX_REACTIONS', 400, 30010],
    ['USERNAME_TAKEN', 400, 50035],
    ['UNAVAILABLE', 503, 0],
    ['READ_ONLY', 503, 0],
    ['DISK_FULL', 503, 0],
  ])('%s -> %i / %i', (code, status, discordCode) => {
    const err = toHttpError(new StoreError(code));
    expect(err.status).toBe(status);
    expect(err.code).toBe(discordCode);
  });

  it('words a taken username as Discord does, on the field', () => {
    expect(toHttpError(new StoreError('USERNAME_TAKEN')).toBody()).toMatchObject({
      code: 50035,
      errors: { username: { _errors: [{ code: 'USERNAME_ALREADY_TAKEN' }] } },
    });
  });

  it('keeps the database out of the message', () => {
    const err = toHttpError(new StoreError('READ_ONLY', 'attempt to write a readonly database: /var/lib/x.db'));
    expect(isHttpError(err, RestErrors.SERVICE_UNAVAILABLE)).toBe(true);
    expect(JSON.stringify(err.toBody())).not.toContain('/var/lib');
  });
});

describe('a database that refuses writes', () => {
  let t: TestServer | undefined;
  afterEach(async () => {
    await t?.close();
    t = undefined;
  });

  it('answers 503 with a Discord body and Retry-After, and serves again once it accepts writes', async () => {
    t = await startTestServer({ GUILDHALL_DEV_ACCOUNTS: 'true' });
    // query_only makes SQLite refuse every write as a read-only file does (SQLITE_READONLY).
    const engine = (t.server.ctx.store as unknown as { engine: { db: { executeQuery(q: unknown): Promise<unknown> } } }).engine;
    const pragma = (on: boolean) => engine.db.executeQuery({ sql: `PRAGMA query_only = ${on ? 'ON' : 'OFF'}`, parameters: [], query: undefined, queryId: undefined });
    await pragma(true);
    const refused = await t.api('/dev/users', { method: 'POST', body: { username: 'dave' } });
    expect(refused.status).toBe(503);
    expect(refused.body).toEqual({ code: 0, message: '503: Service Unavailable' });
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    await pragma(false);
    expect((await t.api('/dev/users', { method: 'POST', body: { username: 'dave' } })).status).toBe(201);
  });
});
