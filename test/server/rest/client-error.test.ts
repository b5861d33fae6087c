// Parser-level errors (issue 16, bug 4): Discord's error body, not Fastify's.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TestServer, startTestServer } from '../../support/server.js';
import { rawRequest, within } from '../../support/raw-http.js';

let t: TestServer;
beforeAll(async () => {
  t = await startTestServer();
});
afterAll(() => t.close());

function bodyOf(response: string): unknown {
  return JSON.parse(response.slice(response.indexOf('\r\n\r\n') + 4));
}

describe('HTTP parser errors', () => {
  it('answers headers past the size limit with 431 and Discord\'s body, then closes', async () => {
    // Node's limit is 16 KiB of headers.
    const x = rawRequest(t.url, `GET /api/v10/gateway HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`);
    const text = await within(x.closed, 5000, 'close');
    expect(text).toMatch(/^HTTP\/1\.1 431 /);
    expect(text).toMatch(/\r\ncontent-type: application\/json/i);
    expect(bodyOf(text)).toEqual({ code: 0, message: '431: Request Header Fields Too Large' });
  });

  it('answers bytes that are not HTTP with 400 and Discord\'s body', async () => {
    const x = rawRequest(t.url, 'HELLO THERE\r\n\r\n');
    const text = await within(x.closed, 5000, 'close');
    expect(text).toMatch(/^HTTP\/1\.1 400 /);
    expect(bodyOf(text)).toEqual({ code: 0, message: '400: Bad Request' });
  });

  it('still serves the next connection', async () => {
    expect((await t.api('/gateway')).status).toBe(200);
  });
});
