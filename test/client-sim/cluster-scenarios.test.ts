// The two failure drills end to end: three nodes in cluster mode as separate
// processes (client-sim's --spawn-cluster), real NATS, real PostgreSQL.
// Opt-in (GUILDHALL_CLUSTER_E2E=1): they need the server's cluster mode
// (drain, resume on another node, placement), and take minutes.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveOptions } from '../../client-sim/cli.js';
import type { SimReport } from '../../client-sim/report.js';
import { runSimulation } from '../../client-sim/run.js';
import { NATS_URL } from '../support/cluster.js';
import { type TestDatabase, createTestDatabase } from '../support/postgres.js';

const E2E = process.env.GUILDHALL_CLUSTER_E2E === '1';

describe.runIf(E2E)('cluster drills (three nodes)', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase('guildhall_drill');
  });
  afterAll(async () => {
    await db?.drop();
  });

  function report(r: SimReport): void {
    if (!r.passed) console.error(JSON.stringify({ failures: r.failures, gateway: r.gateway, errors: r.errorSamples }, null, 2));
  }

  it('rolling-restart: every node drained and back, nothing lost, duplicated or reordered over the gateway', async () => {
    const o = resolveOptions('rolling-restart', { spawnCluster: 3, sessions: 30, guilds: 4, rate: 10, natsUrl: NATS_URL, databaseUrl: db.url, progress: 'off', timeout: 400 });
    const r = await runSimulation(o, { env: {}, nodeEnv: { GUILDHALL_DRAIN_TIMEOUT_MS: '15000' } });
    report(r);
    expect(r.failures).toEqual([]);
    expect(r.notes.restarted).toBe(3);
    expect(r.metrics).toMatchObject({ lost: 0, duplicated: 0, out_of_order: 0, seq_gaps: 0, invalid_sessions: 0, via_history: 0, unexpected: 0 });
    expect(r.gateway.reconnects).toBeGreaterThanOrEqual(30);
    expect(r.gateway.resumes).toBe(r.gateway.reconnects);
  }, 450_000);

  it('node-kill: every acknowledged message reaches each member once, over the gateway or from history', async () => {
    const o = resolveOptions('node-kill', { spawnCluster: 3, sessions: 30, guilds: 4, rate: 10, duration: 20, down: 8, natsUrl: NATS_URL, databaseUrl: db.url, progress: 'off', timeout: 300 });
    const r = await runSimulation(o, { env: {} });
    report(r);
    expect(r.failures).toEqual([]);
    expect(r.metrics).toMatchObject({ lost: 0, duplicated: 0, unexpected: 0, sessions_failed: 0 });
    // About a third of the sessions were on the killed node: they had to IDENTIFY again.
    expect(r.gateway.reidentifies).toBeGreaterThan(0);
  }, 350_000);
});
