// The simulator's own tracing: every REST request carries a sampled W3C
// traceparent, so the server's trace of a message starts at the client.
import { createServer } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HistogramSet } from '../../client-sim/histograms.js';
import { RestClient } from '../../client-sim/rest.js';
import { startSimTracing } from '../../client-sim/tracing.js';
import { type TestServer, startTestServer } from '../support/server.js';

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-01$/;

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server?.close();
});

/** The traceparent of every request `send` makes, as a plain HTTP server received it. */
async function traceparentsOf(send: (rest: RestClient) => Promise<void>): Promise<string[]> {
  const seen: string[] = [];
  const http = createServer((req, res) => {
    seen.push(String(req.headers.traceparent));
    res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
  });
  await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
  const address = http.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  const tracing = startSimTracing({});
  expect(tracing.exporting).toBe(false);
  try {
    await send(new RestClient(`http://127.0.0.1:${port}`, tracing, new HistogramSet()));
  } finally {
    await tracing.shutdown();
    await new Promise((r) => http.close(r));
  }
  return seen;
}

describe('client-sim tracing', () => {
  it('sends a fresh sampled traceparent with each request, even with no exporter configured', async () => {
    const seen = await traceparentsOf(async (rest) => {
      await rest.request('GET', '/a');
      await rest.request('GET', '/b');
    });
    expect(seen).toHaveLength(2);
    for (const tp of seen) expect(tp).toMatch(TRACEPARENT);
    // Each request is its own trace.
    expect(TRACEPARENT.exec(seen[0]!)![1]).not.toBe(TRACEPARENT.exec(seen[1]!)![1]);
  });

  it('asked for an unsampled request, sends the same kind of traceparent with the sampled flag cleared', async () => {
    const seen = await traceparentsOf(async (rest) => {
      await rest.request('GET', '/a', { unsampled: true });
      await rest.request('GET', '/b');
    });
    expect(seen[0]).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-00$/);
    expect(seen[1]).toMatch(TRACEPARENT);
  });

  it('the server traces nothing of a request sent unsampled', async () => {
    const tracing = startSimTracing({});
    const rest = new RestClient(server.url, tracing, new HistogramSet());
    const before = server.server.traceStore.list().length;
    // Sampled, unsampled, sampled: spans reach the store in order, so once the
    // last one's trace is there, the middle one's would be too.
    await rest.request('POST', '/dev/users', { body: { username: 'traced_user_2' } });
    await rest.request('POST', '/dev/users', { body: { username: 'untraced_user' }, unsampled: true });
    await rest.request('POST', '/dev/users', { body: { username: 'traced_user_3' } });
    await tracing.shutdown();
    const deadline = Date.now() + 5_000;
    while (Date.now() < deadline && server.server.traceStore.list().length < before + 2) await new Promise((r) => setTimeout(r, 50));
    expect(server.server.traceStore.list().length).toBe(before + 2);
  });

  it('the server continues the client trace: its request span has the client span as remote parent', async () => {
    const tracing = startSimTracing({});
    const rest = new RestClient(server.url, tracing, new HistogramSet());
    await rest.request('POST', '/dev/users', { body: { username: 'traced_user' } });
    await tracing.shutdown();
    const store = server.server.traceStore;
    const deadline = Date.now() + 5_000;
    let remote: unknown[] = [];
    while (Date.now() < deadline) {
      remote = store
        .list()
        .flatMap((t) => store.get(t.traceId) ?? [])
        .filter((s) => s.parentIsRemote === true && s.parentSpanId !== undefined);
      if (remote.length > 0) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(remote.length).toBeGreaterThan(0);
  });
});
