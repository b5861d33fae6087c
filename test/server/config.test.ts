import { describe, expect, it } from 'vitest';
import { ConfigError, formatConfigError, loadConfig, publicBaseUrl } from '../../server/config.js';

const SECRET = 'sixteen-chars-at-least';

function issuesOf(fn: () => unknown) {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).issues;
  }
  throw new Error('expected a ConfigError');
}

describe('loadConfig defaults', () => {
  const config = loadConfig({}, []);

  it('has the documented defaults', () => {
    expect(config).toMatchObject({
      host: '127.0.0.1',
      port: 8080,
      nodeEnv: 'development',
      adminSecret: undefined,
      devAccounts: true,
      seed: true,
      fanoutK: 10,
      heartbeatIntervalMs: 41250,
      identifyTimeoutMs: 30_000,
      maxConcurrency: 16,
      resumeBuffer: 1000,
      resumeTimeoutMs: 60000,
      gc: { heapGrowthPercent: 100, pretenuring: false, helperNice: 19 },
      maxBufferedBytes: 1024 * 1024,
      shutdownTimeoutMs: 5000,
      requestTimeoutMs: 10_000,
      rateLimitPerSecond: 50,
      routeRateLimits: true,
      traceStoreSize: 1000,
      slowDeliveryMs: 100,
      slowDeliveryRoots: false,
      slowDeliveryMaxPerS: 100,
      logLevel: 'info',
      publicUrl: undefined,
      database: { kind: 'sqlite', path: './data/guildhall.db' },
      databaseUrl: 'sqlite:./data/guildhall.db',
      sqliteSynchronous: 'full',
      sqliteBinding: undefined,
    });
  });

  it('generates a random token secret when none is configured', () => {
    expect(config.tokenSecretGenerated).toBe(true);
    expect(config.tokenSecret.length).toBeGreaterThanOrEqual(32);
    expect(loadConfig({}, []).tokenSecret).not.toBe(config.tokenSecret);
  });

  it('is frozen', () => {
    expect(Object.isFrozen(config)).toBe(true);
  });
});

describe('loadConfig from the environment', () => {
  it('reads every variable', () => {
    const config = loadConfig(
      {
        HOST: '0.0.0.0',
        PORT: '0',
        NODE_ENV: 'test',
        GUILDHALL_TOKEN_SECRET: SECRET,
        GUILDHALL_ADMIN_SECRET: 'admin-secret-0123456789',
        GUILDHALL_DEV_ACCOUNTS: 'false',
        GUILDHALL_SEED: 'no',
        GUILDHALL_PRIVILEGED_INTENTS: 'off',
        GUILDHALL_TRACE_VIEWER: 'on',
        GUILDHALL_FANOUT_K: '25',
        GUILDHALL_HEARTBEAT_INTERVAL_MS: '5000',
        GUILDHALL_IDENTIFY_TIMEOUT_MS: '2000',
        GUILDHALL_GUILD_IDLE_MS: '0',
        GUILDHALL_MAX_CONCURRENCY: '4',
        GUILDHALL_RESUME_BUFFER: '50',
        GUILDHALL_RESUME_TIMEOUT_MS: '1000',
        GUILDHALL_HEAP_GROWTH_PERCENT: '0',
        GUILDHALL_PRETENURING: 'on',
        GUILDHALL_GC_HELPER_NICE: '0',
        GUILDHALL_MAX_BUFFERED_BYTES: '65536',
        GUILDHALL_SHUTDOWN_TIMEOUT_MS: '100',
        GUILDHALL_REQUEST_TIMEOUT_MS: '2500',
        GUILDHALL_RATE_LIMIT_PER_SECOND: '20',
        GUILDHALL_ROUTE_RATE_LIMITS: 'off',
        GUILDHALL_TRACE_STORE_SIZE: '10',
        GUILDHALL_SLOW_DELIVERY_MS: '0',
        GUILDHALL_SLOW_DELIVERY_ROOTS: 'true',
        GUILDHALL_SLOW_DELIVERY_MAX_PER_S: '5',
        LOG_LEVEL: 'DEBUG',
        PUBLIC_URL: 'https://chat.example.com/',
        DATABASE_URL: 'postgres://guildhall:pw@db:5432/guildhall',
        GUILDHALL_SQLITE_SYNCHRONOUS: 'NORMAL',
        GUILDHALL_SQLITE_BINDING: '/cache/abi-137/better_sqlite3.node',
      },
      [],
    );
    expect(config).toEqual({
      host: '0.0.0.0',
      port: 0,
      nodeEnv: 'test',
      tokenSecret: SECRET,
      tokenSecretGenerated: false,
      adminSecret: 'admin-secret-0123456789',
      devAccounts: false,
      seed: false,
      privilegedIntents: false,
      traceViewer: 'on',
      fanoutK: 25,
      heartbeatIntervalMs: 5000,
      identifyTimeoutMs: 2000,
      maxConcurrency: 4,
      guildIdleMs: 0,
      resumeBuffer: 50,
      resumeTimeoutMs: 1000,
      gc: { heapGrowthPercent: 0, pretenuring: true, helperNice: 0 },
      maxBufferedBytes: 65536,
      shutdownTimeoutMs: 100,
      requestTimeoutMs: 2500,
      rateLimitPerSecond: 20,
      routeRateLimits: false,
      traceStoreSize: 10,
      slowDeliveryMs: 0,
      slowDeliveryRoots: true,
      slowDeliveryMaxPerS: 5,
      logLevel: 'debug',
      publicUrl: 'https://chat.example.com',
      database: { kind: 'postgres', url: 'postgres://guildhall:pw@db:5432/guildhall' },
      databaseUrl: 'postgres://guildhall:pw@db:5432/guildhall',
      sqliteSynchronous: 'normal',
      sqliteBinding: '/cache/abi-137/better_sqlite3.node',
    });
  });

  it('treats empty variables as unset', () => {
    const config = loadConfig({ PORT: '', GUILDHALL_TOKEN_SECRET: '', LOG_LEVEL: '' }, []);
    expect(config.port).toBe(8080);
    expect(config.tokenSecretGenerated).toBe(true);
    expect(config.logLevel).toBe('info');
  });

  it.each([
    ['1', true],
    ['true', true],
    ['YES', true],
    ['on', true],
    ['0', false],
    ['False', false],
    ['no', false],
    ['off', false],
  ])('parses boolean %s', (text, value) => {
    expect(loadConfig({ GUILDHALL_SEED: text }, []).seed).toBe(value);
  });
});

describe('DATABASE_URL', () => {
  it.each([
    ['sqlite::memory:', { kind: 'sqlite', path: ':memory:' }],
    ['sqlite:/var/lib/guildhall/g.db', { kind: 'sqlite', path: '/var/lib/guildhall/g.db' }],
    ['sqlite:relative/g.db', { kind: 'sqlite', path: 'relative/g.db' }],
    ['postgresql://u@127.0.0.1/x', { kind: 'postgres', url: 'postgresql://u@127.0.0.1/x' }],
  ])('reads %s', (url, database) => {
    expect(loadConfig({ DATABASE_URL: url }, []).database).toEqual(database);
  });

  it('has no flag (a URL may hold a password)', () => {
    expect(issuesOf(() => loadConfig({}, ['--database-url', 'sqlite::memory:']))[0]!.field).toBe('--database-url');
  });
});

describe('dev accounts policy', () => {
  it('is on outside production', () => {
    expect(loadConfig({ NODE_ENV: 'development' }, []).devAccounts).toBe(true);
    expect(loadConfig({ NODE_ENV: 'test' }, []).devAccounts).toBe(true);
  });

  it('is off in production without an admin secret', () => {
    expect(loadConfig({ NODE_ENV: 'production' }, []).devAccounts).toBe(false);
  });

  it('is on in production with an admin secret', () => {
    expect(loadConfig({ NODE_ENV: 'production', GUILDHALL_ADMIN_SECRET: 'admin-secret-0123456789' }, []).devAccounts).toBe(true);
  });

  it('follows an explicit setting', () => {
    expect(loadConfig({ NODE_ENV: 'production', GUILDHALL_DEV_ACCOUNTS: 'true' }, []).devAccounts).toBe(true);
    expect(loadConfig({ GUILDHALL_DEV_ACCOUNTS: 'off' }, []).devAccounts).toBe(false);
  });
});

describe('loadConfig from flags', () => {
  it('accepts --flag value and --flag=value', () => {
    expect(loadConfig({}, ['--port', '9000']).port).toBe(9000);
    expect(loadConfig({}, ['--port=9001']).port).toBe(9001);
    expect(loadConfig({}, ['--host=::', '--log-level', 'warn'])).toMatchObject({ host: '::', logLevel: 'warn' });
  });

  it('lets flags override the environment', () => {
    expect(loadConfig({ PORT: '1234' }, ['--port', '4321']).port).toBe(4321);
  });

  it('supports boolean flags with and without values', () => {
    expect(loadConfig({ GUILDHALL_SEED: 'false' }, ['--seed']).seed).toBe(true);
    expect(loadConfig({}, ['--no-seed']).seed).toBe(false);
    expect(loadConfig({}, ['--seed=false']).seed).toBe(false);
    expect(loadConfig({}, ['--seed', 'off', '--port', '1']).seed).toBe(false);
    expect(loadConfig({}, ['--seed', '--port', '1'])).toMatchObject({ seed: true, port: 1 });
    expect(loadConfig({}, ['--no-dev-accounts']).devAccounts).toBe(false);
  });

  it('maps every numeric flag', () => {
    const config = loadConfig({}, [
      '--fanout-k=3',
      '--heartbeat-interval-ms=2000',
      '--resume-buffer=7',
      '--resume-timeout-ms=8',
      '--heap-growth-percent=50',
      '--gc-helper-nice=10',
      '--max-buffered-bytes=4096',
      '--shutdown-timeout-ms=9',
      '--trace-store-size=11',
      '--slow-delivery-ms=250',
      '--slow-delivery-max-per-s=12',
      '--public-url=http://localhost:1',
    ]);
    expect(config).toMatchObject({
      fanoutK: 3,
      heartbeatIntervalMs: 2000,
      resumeBuffer: 7,
      resumeTimeoutMs: 8,
      gc: { heapGrowthPercent: 50, pretenuring: false, helperNice: 10 },
      maxBufferedBytes: 4096,
      shutdownTimeoutMs: 9,
      traceStoreSize: 11,
      slowDeliveryMs: 250,
      slowDeliveryMaxPerS: 12,
      publicUrl: 'http://localhost:1',
    });
  });

  it('rejects unknown flags, stray arguments and missing values', () => {
    expect(issuesOf(() => loadConfig({}, ['--bogus']))).toEqual([{ field: '--bogus', problem: expect.any(String) }]);
    expect(issuesOf(() => loadConfig({}, ['serve']))[0]!.field).toBe('serve');
    expect(issuesOf(() => loadConfig({}, ['-p', '1']))[0]!.field).toBe('-p');
    expect(issuesOf(() => loadConfig({}, ['--port']))[0]).toMatchObject({ field: 'PORT', flag: '--port' });
    expect(issuesOf(() => loadConfig({}, ['--port', '--host', 'x']))[0]).toMatchObject({ field: 'PORT' });
    expect(issuesOf(() => loadConfig({}, ['--no-port']))[0]!.field).toBe('--no-port');
  });

  it('has no flags for secrets', () => {
    expect(issuesOf(() => loadConfig({}, ['--token-secret', SECRET]))[0]!.field).toBe('--token-secret');
  });
});

describe('validation', () => {
  it.each([
    ['PORT', '65536'],
    ['PORT', '-1'],
    ['PORT', '80a'],
    ['PORT', '1.5'],
    ['GUILDHALL_FANOUT_K', '0'],
    ['GUILDHALL_HEARTBEAT_INTERVAL_MS', '10'],
    ['GUILDHALL_IDENTIFY_TIMEOUT_MS', '10'],
    ['GUILDHALL_MAX_CONCURRENCY', '0'],
    ['GUILDHALL_RESUME_BUFFER', 'lots'],
    ['GUILDHALL_HEAP_GROWTH_PERCENT', '401'],
    ['GUILDHALL_HEAP_GROWTH_PERCENT', '-1'],
    ['GUILDHALL_PRETENURING', 'sometimes'],
    ['GUILDHALL_GC_HELPER_NICE', '20'],
    ['GUILDHALL_GC_HELPER_NICE', '-5'],
    ['GUILDHALL_MAX_BUFFERED_BYTES', '10'],
    ['GUILDHALL_TRACE_STORE_SIZE', '0'],
    ['GUILDHALL_SLOW_DELIVERY_MS', '-1'],
    ['GUILDHALL_SLOW_DELIVERY_MS', '3600001'],
    ['GUILDHALL_SLOW_DELIVERY_ROOTS', 'sometimes'],
    ['GUILDHALL_SLOW_DELIVERY_MAX_PER_S', '1.5'],
    ['GUILDHALL_SEED', 'maybe'],
    ['GUILDHALL_DEV_ACCOUNTS', '2'],
    ['LOG_LEVEL', 'verbose'],
    ['PUBLIC_URL', 'not a url'],
    ['PUBLIC_URL', 'ftp://example.com'],
    ['GUILDHALL_TOKEN_SECRET', 'short'],
    ['GUILDHALL_ADMIN_SECRET', 'short'],
    ['HOST', '   '],
    ['DATABASE_URL', 'sqlite:'],
    ['DATABASE_URL', 'mysql://localhost/db'],
    ['DATABASE_URL', './data/guildhall.db'],
    ['DATABASE_URL', 'postgres:db'],
    ['GUILDHALL_SQLITE_SYNCHRONOUS', 'extra'],
    ['GUILDHALL_SQLITE_BINDING', '/tmp/not-a-module'],
  ])('rejects %s=%s', (name, value) => {
    const issues = issuesOf(() => loadConfig({ [name]: value }, []));
    expect(issues).toHaveLength(1);
    expect(issues[0]!.field).toBe(name);
    expect(issues[0]!.problem.length).toBeGreaterThan(0);
  });

  it('reports every problem at once, with flags', () => {
    const issues = issuesOf(() => loadConfig({ PORT: 'x', LOG_LEVEL: 'loud' }, ['--nope', '--fanout-k=-3']));
    expect(issues.map((i) => i.field).sort()).toEqual(['--nope', 'GUILDHALL_FANOUT_K', 'LOG_LEVEL', 'PORT']);
    expect(issues.find((i) => i.field === 'PORT')!.flag).toBe('--port');
    expect(issues.find((i) => i.field === 'GUILDHALL_FANOUT_K')!.flag).toBe('--fanout-k');
  });

  it('carries a stable code and a readable message', () => {
    let error: ConfigError | undefined;
    try {
      loadConfig({ PORT: 'x' }, ['--nope']);
    } catch (err) {
      error = err as ConfigError;
    }
    expect(error?.code).toBe('CONFIG_INVALID');
    const text = formatConfigError(error!);
    expect(text).toContain('PORT (--port)');
    expect(text).toContain('--nope');
    expect(text.split('\n')).toHaveLength(3);
    expect(error!.message).toBe(text);
  });
});

describe('publicBaseUrl', () => {
  it('prefers PUBLIC_URL', () => {
    expect(publicBaseUrl({ host: '0.0.0.0', port: 1, publicUrl: 'https://x.example' }, 2)).toBe('https://x.example');
  });

  it('derives from host and the bound port', () => {
    expect(publicBaseUrl({ host: '127.0.0.1', port: 0, publicUrl: undefined }, 43210)).toBe('http://127.0.0.1:43210');
    expect(publicBaseUrl({ host: 'localhost', port: 8080, publicUrl: undefined })).toBe('http://localhost:8080');
  });

  it('turns wildcard and IPv6 hosts into something dialable', () => {
    expect(publicBaseUrl({ host: '0.0.0.0', port: 80, publicUrl: undefined })).toBe('http://127.0.0.1:80');
    expect(publicBaseUrl({ host: '::', port: 80, publicUrl: undefined })).toBe('http://[::1]:80');
    expect(publicBaseUrl({ host: '::1', port: 80, publicUrl: undefined })).toBe('http://[::1]:80');
  });
});

describe('cluster settings (issue 14)', () => {
  const PG = 'postgres://guildhall@db.example:5432/guildhall';

  it('leaves cluster mode off without GUILDHALL_NATS_URL, whatever else is set', () => {
    expect(loadConfig({ GUILDHALL_CLUSTER: 'blue', GUILDHALL_NODE_ID: 'n1' }).cluster).toBeUndefined();
  });

  it('has the documented defaults', () => {
    const config = loadConfig({ DATABASE_URL: PG, GUILDHALL_NATS_URL: 'nats://127.0.0.1:4222' });
    expect(config.cluster).toEqual({
      natsUrl: 'nats://127.0.0.1:4222',
      name: 'guildhall',
      nodeId: '127-0-0-1-8080',
      leaseTtlMs: 6000,
      nodeTtlMs: 3000,
      drainTimeoutMs: 30_000,
    });
  });

  it('reads every variable', () => {
    const config = loadConfig({
      DATABASE_URL: PG,
      GUILDHALL_NATS_URL: 'nats://a:4222,nats://b:4222',
      GUILDHALL_CLUSTER: 'blue_1',
      GUILDHALL_NODE_ID: 'node-a',
      GUILDHALL_LEASE_TTL_MS: '4000',
      GUILDHALL_NODE_TTL_MS: '1500',
      GUILDHALL_DRAIN_TIMEOUT_MS: '0',
    });
    expect(config.cluster).toEqual({ natsUrl: 'nats://a:4222,nats://b:4222', name: 'blue_1', nodeId: 'node-a', leaseTtlMs: 4000, nodeTtlMs: 1500, drainTimeoutMs: 0 });
  });

  it('takes flags over the environment', () => {
    const config = loadConfig({ DATABASE_URL: PG, GUILDHALL_CLUSTER: 'env' }, [
      '--nats',
      'nats://n:4222',
      '--cluster=flag',
      '--node-id',
      'x',
      '--lease-ttl-ms',
      '2000',
      '--node-ttl-ms=900',
      '--drain-timeout-ms',
      '100',
    ]);
    expect(config.cluster).toEqual({ natsUrl: 'nats://n:4222', name: 'flag', nodeId: 'x', leaseTtlMs: 2000, nodeTtlMs: 900, drainTimeoutMs: 100 });
  });

  it('derives the node id from the public URL', () => {
    expect(loadConfig({ DATABASE_URL: PG, GUILDHALL_NATS_URL: 'nats://n', PUBLIC_URL: 'https://chat.example.com' }).cluster?.nodeId).toBe('chat-example-com-443');
    expect(loadConfig({ DATABASE_URL: PG, GUILDHALL_NATS_URL: 'nats://n', HOST: '0.0.0.0', PORT: '9001' }).cluster?.nodeId).toBe('127-0-0-1-9001');
  });

  it('refuses SQLite in cluster mode with a stable code', () => {
    const issues = issuesOf(() => loadConfig({ GUILDHALL_NATS_URL: 'nats://127.0.0.1:4222', DATABASE_URL: 'sqlite::memory:' }));
    expect(issues).toEqual([expect.objectContaining({ field: 'GUILDHALL_NATS_URL', flag: '--nats', code: 'CLUSTER_NEEDS_POSTGRES' })]);
    // The default database is SQLite too.
    expect(issuesOf(() => loadConfig({}, ['--nats', 'nats://n'])).map((i) => i.code)).toEqual(['CLUSTER_NEEDS_POSTGRES']);
    let text = '';
    try {
      loadConfig({ GUILDHALL_NATS_URL: 'nats://n' });
    } catch (err) {
      text = formatConfigError(err as ConfigError);
    }
    expect(text).toContain('[CLUSTER_NEEDS_POSTGRES]');
  });

  it('needs a node id on PORT=0 without PUBLIC_URL', () => {
    const issues = issuesOf(() => loadConfig({ DATABASE_URL: PG, GUILDHALL_NATS_URL: 'nats://n', PORT: '0' }));
    expect(issues.map((i) => i.code)).toEqual(['CLUSTER_NODE_ID_UNKNOWN']);
    expect(loadConfig({ DATABASE_URL: PG, GUILDHALL_NATS_URL: 'nats://n', PORT: '0', GUILDHALL_NODE_ID: 'a' }).cluster?.nodeId).toBe('a');
  });

  it('validates each value', () => {
    const issues = issuesOf(() =>
      loadConfig({
        DATABASE_URL: PG,
        GUILDHALL_NATS_URL: 'http://not-nats',
        GUILDHALL_CLUSTER: 'a.b',
        GUILDHALL_NODE_ID: 'host:80',
        GUILDHALL_LEASE_TTL_MS: '10',
        GUILDHALL_NODE_TTL_MS: 'x',
        GUILDHALL_DRAIN_TIMEOUT_MS: '-1',
      }),
    );
    expect(issues.map((i) => i.field).sort()).toEqual(
      ['GUILDHALL_CLUSTER', 'GUILDHALL_DRAIN_TIMEOUT_MS', 'GUILDHALL_LEASE_TTL_MS', 'GUILDHALL_NATS_URL', 'GUILDHALL_NODE_ID', 'GUILDHALL_NODE_TTL_MS'].sort(),
    );
  });
});
