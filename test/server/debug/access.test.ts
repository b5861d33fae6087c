// Bug 5 of issue 16: /debug shows session and user ids. Real servers, real HTTP.
import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { type GuildhallServer, createServer } from '../../../server/app.js';
import { loadConfig } from '../../../server/config.js';
import { isLoopbackHost } from '../../../server/debug/access.js';
import { createLogger } from '../../../server/logger.js';
import { TEST_DATABASE_ENV } from '../../support/server.js';

const SECRET = 'debug-admin-secret-0123456789';
const servers: GuildhallServer[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await s.close();
});

async function start(env: Record<string, string>): Promise<{ base: string; logs: string[] }> {
  const logs: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, done) {
      logs.push(chunk.toString('utf8'));
      done();
    },
  });
  const config = loadConfig({ ...TEST_DATABASE_ENV, PORT: '0', GUILDHALL_SEED: 'false', GUILDHALL_TOKEN_SECRET: 'debug-access-token-secret-01', ...env });
  const server = await createServer(config, { tracingEnv: {}, logger: createLogger({ level: 'warn', destination }) });
  servers.push(server);
  return { base: await server.listen(), logs };
}

// Every kind of /debug route there is, plus one nobody has written yet (covered by the prefix all the same).
const PATHS = ['/debug', '/debug/traces', '/debug/api/traces', '/debug/api/debug-sampling', '/debug/not-written-yet'];

describe('/debug with GUILDHALL_ADMIN_SECRET set', () => {
  it('answers 401 / 40001 to every /debug path without the secret or with a wrong one', async () => {
    const { base } = await start({ GUILDHALL_ADMIN_SECRET: SECRET });
    for (const path of PATHS) {
      for (const headers of [{}, { 'x-admin-secret': 'wrong-secret-0123456789' }, { authorization: 'Bearer nope' }] as Record<string, string>[]) {
        const res = await fetch(`${base}${path}`, { headers });
        expect(res.status, path).toBe(401);
        expect(((await res.json()) as { code: number }).code).toBe(40001);
        expect(res.headers.get('www-authenticate')).toMatch(/^Basic /);
      }
    }
  });

  it('serves them with the secret as X-Admin-Secret, a Bearer token or a Basic password', async () => {
    const { base } = await start({ GUILDHALL_ADMIN_SECRET: SECRET });
    const basic = `Basic ${Buffer.from(`admin:${SECRET}`).toString('base64')}`;
    for (const headers of [{ 'x-admin-secret': SECRET }, { authorization: `Bearer ${SECRET}` }, { authorization: basic }] as Record<string, string>[]) {
      expect((await fetch(`${base}/debug/traces`, { headers })).status).toBe(200);
      expect((await fetch(`${base}/debug/api/traces`, { headers })).status).toBe(200);
      // Past the guard: the router's own 404.
      expect((await fetch(`${base}/debug/not-written-yet`, { headers })).status).toBe(404);
    }
  });

  it('leaves the rest alone', async () => {
    const { base } = await start({ GUILDHALL_ADMIN_SECRET: SECRET });
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    expect((await fetch(`${base}/api/v10/gateway`)).status).toBe(200);
  });
});

describe('/debug without an admin secret', () => {
  it('is open on loopback', async () => {
    const { base, logs } = await start({ HOST: '127.0.0.1' });
    expect((await fetch(`${base}/debug/api/traces`)).status).toBe(200);
    expect(logs.join('')).not.toMatch(/GUILDHALL_ADMIN_SECRET/);
  });

  it('is not served when listening beyond loopback, and says so at start', async () => {
    // Bound to every interface for the length of the test; the requests still go to loopback.
    const { base, logs } = await start({ HOST: '0.0.0.0' });
    for (const path of PATHS) {
      const res = await fetch(`${base}${path}`);
      expect(res.status, path).toBe(403);
      expect(((await res.json()) as { code: number }).code).toBe(50001);
    }
    expect(logs.some((l) => JSON.parse(l).level === 40 && /GUILDHALL_ADMIN_SECRET/.test(l))).toBe(true);
  });
});

describe('isLoopbackHost', () => {
  it('knows loopback from the rest', () => {
    for (const h of ['127.0.0.1', '127.1.2.3', 'localhost', '::1', '[::1]', '::ffff:127.0.0.1']) expect(isLoopbackHost(h), h).toBe(true);
    for (const h of ['0.0.0.0', '::', '10.0.0.1', '192.168.1.1', 'example.com', '128.0.0.1']) expect(isLoopbackHost(h), h).toBe(false);
  });
});
