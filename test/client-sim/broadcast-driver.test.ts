// The broadcast driver the benchmark uses: one world, one connect, several
// bursts, each accounted on its own.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BroadcastDriver } from '../../client-sim/broadcast-driver.js';
import { type TestServer, startTestServer } from '../support/server.js';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server?.close();
});

describe('BroadcastDriver', () => {
  it('connects once and reports each burst separately, with nothing lost', async () => {
    const driver = await BroadcastDriver.setup({ urls: [server.url], sessions: 12, users: 4, workers: 0, connectRate: 200, seed: 3 });
    try {
      expect(await driver.connect(20_000)).toBe(12);
      const first = await driver.burst(5, 1000);
      expect(first).toMatchObject({ sent: 5, failed: 0, expected: 60, delivered: 60, lost: 0, duplicated: 0, unexpected: 0, seqGaps: 0 });
      expect(first.fanout.count).toBe(60);
      expect(first.deliveriesPerS).toBeGreaterThan(0);
      const second = await driver.burst(2, 1000);
      expect(second).toMatchObject({ sent: 2, expected: 24, delivered: 24, lost: 0 });
      // Histograms start afresh per burst.
      expect(second.fanout.count).toBe(24);
    } finally {
      await driver.close();
    }
  });
});
