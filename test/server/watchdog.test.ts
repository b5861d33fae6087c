// The watchdog ends a process whose event loop is blocked, which no timer on that loop can.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

function run(script: string): Promise<{ code: number | null; signal: NodeJS.Signals | null; ms: number }> {
  const t0 = Date.now();
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: ROOT, stdio: 'ignore' });
  const guard = setTimeout(() => child.kill('SIGKILL'), 20_000);
  return new Promise((resolve) =>
    child.on('exit', (code, signal) => {
      clearTimeout(guard);
      resolve({ code, signal, ms: Date.now() - t0 });
    }),
  );
}

describe('startExitWatchdog', () => {
  it('kills a process whose event loop never comes back', async () => {
    const result = await run(`
      import { startExitWatchdog } from './server/watchdog.ts';
      startExitWatchdog(300);
      setTimeout(() => process.exit(3), 100).unref(); // never runs: the loop is blocked
      for (;;) {}
    `);
    expect(result.signal).toBe('SIGKILL');
    expect(result.ms).toBeLessThan(15_000);
  }, 30_000);

  it('does not keep a process alive, nor outlive a clean exit', async () => {
    const result = await run(`
      import { startExitWatchdog } from './server/watchdog.ts';
      startExitWatchdog(60_000);
    `);
    expect(result).toMatchObject({ code: 0, signal: null });
    expect(result.ms).toBeLessThan(15_000);
  }, 30_000);
});
