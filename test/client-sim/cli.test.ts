// The command line: flags validated at the boundary (bad input exits 2),
// and the real binary run as a child process against a server in this test:
// exit 0 when everything holds, 1 when an assertion fails, JSON on request.
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CliError, parseCli } from '../../client-sim/cli.js';
import { type TestServer, startTestServer } from '../support/server.js';

const MAIN = join(import.meta.dirname, '../../client-sim/main.ts');

function cli(args: string[], timeoutMs = 60_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', MAIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, OTEL_EXPORTER_OTLP_ENDPOINT: '' } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`client-sim did not finish in ${timeoutMs} ms\n${stderr}`));
    }, timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

describe('parseCli', () => {
  it('fills per-scenario defaults and reads every flag', () => {
    const o = parseCli(['broadcast', '--url', 'http://127.0.0.1:9/', '--sessions', '50', '--messages', '7', '--duration', '1500ms', '--seed', '9', '--assert', 'lost==0', '--assert', 'fanout_p99<1s'])!;
    expect(o).toMatchObject({ scenario: 'broadcast', urls: ['http://127.0.0.1:9'], spawnCluster: 0, sessions: 50, guilds: 1, users: 50, messages: 7, duration: 1.5, seed: 9, workers: 0, progress: 'auto' });
    expect(o.assertions.map((a) => [a.metric, a.value])).toEqual([
      ['lost', 0],
      ['fanout_p99', 1000],
    ]);
    const chat = parseCli(['chat', '--rate', '10', '--duration', '2m', '--no-progress'])!;
    expect(chat).toMatchObject({ guilds: 20, messages: 1200, progress: 'off' });
    expect(parseCli(['connect-storm', '--sessions', '10000'])!.workers).toBe(4);
    expect(parseCli(['--help'])).toBeUndefined();
  });

  it('takes a comma-separated list of nodes for --url', () => {
    const o = parseCli(['chat', '--url', 'http://127.0.0.1:8080, http://127.0.0.1:8081/,http://127.0.0.1:8082'])!;
    expect(o.urls).toEqual(['http://127.0.0.1:8080', 'http://127.0.0.1:8081', 'http://127.0.0.1:8082']);
    expect(parseCli(['chat'])!.urls).toEqual(['http://127.0.0.1:8080']);
  });

  it('reads --spawn-cluster with the nodes\' NATS and PostgreSQL from the environment', () => {
    const env = { GUILDHALL_NATS_URL: 'nats://10.0.0.1:4222', DATABASE_URL: 'postgres://u@db:5432/sim' };
    const o = parseCli(['rolling-restart', '--spawn-cluster', '3', '--base-port', '9100'], env)!;
    expect(o).toMatchObject({ scenario: 'rolling-restart', spawnCluster: 3, basePort: 9100, urls: [], natsUrl: env.GUILDHALL_NATS_URL, databaseUrl: env.DATABASE_URL, guilds: 10 });
    // rolling-restart sends until the last node is back; --messages is its cap.
    expect(o.messages).toBe(20 * 60 * 3);
    const k = parseCli(['node-kill', '--spawn-cluster', '2', '--down', '3s'], {})!;
    expect(k).toMatchObject({ down: 3, natsUrl: 'nats://127.0.0.1:4222', databaseUrl: 'postgres://postgres@127.0.0.1:5432/guildhall_cluster' });
    expect(() => parseCli(['node-kill', '--spawn-cluster', '2'], { DATABASE_URL: 'sqlite::memory:' })).toThrow(/DATABASE_URL must be a postgres/);
  });

  it.each([
    [['chat', '--sessions', 'many'], /--sessions must be a whole number/],
    [['chat', '--sessions', '0'], /--sessions must be at least 1/],
    [['chat', '--rate=-3'], /--rate must be a positive number/],
    [['chat', '--rate', '0'], /--rate must be above 0/],
    [['chat', '--duration', '10h'], /--duration must be a duration/],
    [['chat', '--url', 'ftp://x'], /--url must be an http\(s\) URL/],
    [['chat', '--bogus', '1'], /Unknown option '--bogus'/],
    [['chat', '--assert', 'nonsense'], /cannot parse assertion/],
    [['storm'], /unknown scenario "storm"/],
    [[], /a scenario is required/],
    [['chat', '--users', '5', '--guilds', '6', '--sessions', '5'], /needs at least as many users/],
    [['hot-guild', '--guilds', '1'], /hot-guild needs --guilds of at least 2/],
    [['resume-storm', '--cut', '1.5'], /--cut must be a share/],
    [['chat', '--url', 'http://a:1,ftp://b'], /--url must be an http\(s\) URL/],
    [['chat', '--url', 'http://a:1,http://a:1'], /--url lists a node twice/],
    [['chat', '--spawn-cluster', '0'], /--spawn-cluster must be at least 1/],
    [['rolling-restart'], /rolling-restart needs --spawn-cluster/],
    [['node-kill', '--url', 'http://a:1'], /node-kill needs --spawn-cluster/],
    [['rolling-restart', '--spawn-cluster', '1'], /at least 2/],
    [['node-kill', '--spawn-cluster', '2', '--url', 'http://a:1'], /exclude each other/],
    [['node-kill', '--spawn-cluster', '2', '--guilds', '1'], /--guilds of at least 2/],
  ])('rejects %j', (args, message) => {
    expect(() => parseCli(args)).toThrow(CliError);
    expect(() => parseCli(args)).toThrow(message);
  });
});

describe('client-sim binary', () => {
  let server: TestServer;
  let dir: string;
  beforeAll(async () => {
    server = await startTestServer();
    dir = await mkdtemp(join(tmpdir(), 'client-sim-'));
  });
  afterAll(async () => {
    await server?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('a bad flag exits 2 with the reason and the usage', async () => {
    const r = await cli(['broadcast', '--sessions', 'lots']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--sessions must be a whole number');
    expect(r.stderr).toContain('usage: client-sim <scenario>');
  });

  it('a bad assertion exits 2 before any load', async () => {
    const r = await cli(['broadcast', '--url', server.url, '--assert', 'fanout_p77<1ms']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('unknown metric "fanout_p77"');
  });

  it('exits 0 when the run is clean and the assertions hold, and writes the JSON summary', async () => {
    const json = join(dir, 'ok.json');
    const r = await cli(['broadcast', '--url', server.url, '--sessions', '8', '--messages', '3', '--json', json, '--assert', 'lost==0', '--assert', 'fanout_p99<30s', '--no-progress']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('PASSED');
    expect(r.stdout).toMatch(/fanout\s+24\s/);
    const report = JSON.parse(await readFile(json, 'utf8'));
    expect(report).toMatchObject({ scenario: 'broadcast', passed: true, delivery: { expected: 24, delivered: 24, lost: 0 } });
    expect(report.assertions).toEqual([
      { text: 'lost==0', ok: true, actual: 0 },
      expect.objectContaining({ text: 'fanout_p99<30s', ok: true }),
    ]);
  });

  it('a failed assertion exits 1 and says which', async () => {
    const r = await cli(['broadcast', '--url', server.url, '--sessions', '4', '--messages', '2', '--assert', 'fanout_p99<0.001ms', '--assert', 'lost==0']);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('FAIL fanout_p99<0.001ms');
    expect(r.stdout).toMatch(/FAILED: assertion failed: fanout_p99<0.001ms/);
    expect(r.stdout).not.toContain('assertion failed: lost==0');
  });

  it('an unreachable server fails the run (exit 1), it does not hang', async () => {
    const r = await cli(['broadcast', '--url', 'http://127.0.0.1:9', '--sessions', '2', '--no-progress', '--timeout', '20s']);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('run aborted');
  });
});
