// POST /dev/users: open in development, closed in production unless the
// admin secret is presented.
import { afterEach, describe, expect, it } from 'vitest';
import { secretMatches } from '../../../server/rest/routes/dev.js';
import { type TestServer, startTestServer } from '../../support/server.js';

const ADMIN = 'admin-secret-0123456789';
const servers: TestServer[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await s.close();
});
async function start(env: Record<string, string> = {}) {
  const t = await startTestServer(env);
  servers.push(t);
  return t;
}

describe('POST /dev/users', () => {
  it('makes a user with a working token in development: 201', async () => {
    const t = await start();
    const res = await t.api('/dev/users', { method: 'POST', body: { username: 'dave' } });
    expect(res.status).toBe(201);
    expect(res.body).toEqual({ id: expect.any(String), username: 'dave', token: expect.any(String) });
    expect((await t.api('/users/@me', { token: res.body.token })).body.id).toBe(res.body.id);
  });

  it('validates the username (50035) and refuses a taken one (50035 USERNAME_ALREADY_TAKEN)', async () => {
    const t = await start();
    const bad = await t.api('/dev/users', { method: 'POST', body: { username: 'Not Valid!' } });
    expect(bad.body.code).toBe(50035);
    expect(bad.body.errors.username).toBeDefined();
    await t.api('/dev/users', { method: 'POST', body: { username: 'erin' } });
    const taken = await t.api('/dev/users', { method: 'POST', body: { username: 'erin' } });
    expect(taken.body.code).toBe(50035);
    expect(taken.body.errors.username._errors[0].code).toBe('USERNAME_ALREADY_TAKEN');
  });

  it('is a 404 in production without an admin secret', async () => {
    const t = await start({ NODE_ENV: 'production' });
    const res = await t.api('/dev/users', { method: 'POST', body: { username: 'dave' } });
    expect(res.status).toBe(404);
    expect(res.body.code).toBe(0);
  });

  it('is open in production to the admin secret only', async () => {
    const t = await start({ NODE_ENV: 'production', GUILDHALL_ADMIN_SECRET: ADMIN });
    expect((await t.api('/dev/users', { method: 'POST', body: { username: 'dave' } })).status).toBe(404);
    expect((await t.api('/dev/users', { method: 'POST', body: { username: 'dave' }, headers: { 'x-admin-secret': 'wrong' } })).status).toBe(404);
    const ok = await t.api('/dev/users', { method: 'POST', body: { username: 'dave' }, headers: { 'x-admin-secret': ADMIN } });
    expect(ok.status).toBe(201);
  });
});

describe('secretMatches', () => {
  it('compares whole secrets of any length', () => {
    expect(secretMatches(ADMIN, ADMIN)).toBe(true);
    expect(secretMatches(ADMIN.slice(0, -1), ADMIN)).toBe(false);
    expect(secretMatches(`${ADMIN}x`, ADMIN)).toBe(false);
    expect(secretMatches(undefined, ADMIN)).toBe(false);
    expect(secretMatches(['a'], ADMIN)).toBe(false);
  });
});

describe('POST /dev/users switched off explicitly', () => {
  it('is a 404 with GUILDHALL_DEV_ACCOUNTS=false, and still open to the admin secret', async () => {
    const t = await start({ GUILDHALL_DEV_ACCOUNTS: 'false', GUILDHALL_ADMIN_SECRET: ADMIN });
    expect((await t.api('/dev/users', { method: 'POST', body: { username: 'dave' } })).status).toBe(404);
    expect((await t.api('/dev/users', { method: 'POST', body: { username: 'dave' }, headers: { 'x-admin-secret': ADMIN } })).status).toBe(201);
  });
});
