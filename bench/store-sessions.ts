// bench:store's gateway sessions (`--sessions lean`, the default): a worker
// thread of counting sessions (store-sessions-worker.ts), driven from here.
// `--sessions sim` uses client-sim's SessionPool instead, which parses every
// frame; both count the same MESSAGE_CREATEs.
import { Worker } from 'node:worker_threads';
import { sleep } from '../client-sim/clock.js';
import type { LeanInit, LeanStats } from './store-sessions-worker.js';

export type { LeanStats } from './store-sessions-worker.js';

export class LeanSessions {
  private next = 0;
  private readonly waiting = new Map<number, (value: unknown) => void>();

  private constructor(private readonly worker: Worker) {
    worker.on('message', (msg: { id: number; value: unknown }) => {
      this.waiting.get(msg.id)?.(msg.value);
      this.waiting.delete(msg.id);
    });
  }

  static start(init: LeanInit): LeanSessions {
    const entry = new URL('./store-sessions-worker.ts', import.meta.url).href;
    // On Node 20 a worker's `--import tsx` does not take: register tsx first (as client-sim/pool.ts does).
    const worker = import.meta.url.endsWith('.ts')
      ? new Worker(`import('tsx/esm/api').then((api) => { api.register(); return import(${JSON.stringify(entry)}); });`, { eval: true, workerData: init })
      : new Worker(new URL('./store-sessions-worker.js', import.meta.url), { workerData: init });
    return new LeanSessions(worker);
  }

  private call(cmd: 'stats' | 'close'): Promise<unknown> {
    const id = this.next++;
    return new Promise((resolve) => {
      this.waiting.set(id, resolve);
      this.worker.postMessage({ id, cmd });
    });
  }

  stats(): Promise<LeanStats> {
    return this.call('stats') as Promise<LeanStats>;
  }

  /** Polls until `done(stats)` holds or `timeoutMs` passes. */
  async waitFor(done: (s: LeanStats) => boolean, timeoutMs: number): Promise<{ ok: boolean; stats: LeanStats }> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const stats = await this.stats();
      if (done(stats)) return { ok: true, stats };
      if (performance.now() >= deadline) return { ok: false, stats };
      await sleep(100);
    }
  }

  async close(): Promise<void> {
    await Promise.race([this.call('close'), sleep(5_000)]);
    await this.worker.terminate();
  }
}
