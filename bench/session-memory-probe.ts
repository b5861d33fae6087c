// Loaded into the server under test by bench/session-memory.ts
// (`node --expose-gc --import tsx --import <this file> server/main.ts`, with an
// IPC channel): it answers the benchmark's requests for a collected heap's
// figures and for a heap snapshot. The server's own code is not changed.
//   not meant to be run by hand.
import { writeHeapSnapshot } from 'node:v8';

export type ProbeRequest = { cmd: 'measure' } | { cmd: 'snapshot'; path: string };

export interface MemoryReading {
  rss: number;
  heapUsed: number;
  heapTotal: number;
  external: number;
  arrayBuffers: number;
}

const gc = (globalThis as { gc?: () => void }).gc;

function collect(): void {
  if (!gc) throw new Error('the server runs without --expose-gc');
  gc();
}

if (process.send) {
  process.on('message', (msg: ProbeRequest) => {
    // Two collections a turn apart: weak callbacks and finalizers queued by the first free more in the second.
    setImmediate(() => {
      try {
        collect();
        setImmediate(() => {
          collect();
          if (msg.cmd === 'measure') {
            const m = process.memoryUsage();
            const reading: MemoryReading = { rss: m.rss, heapUsed: m.heapUsed, heapTotal: m.heapTotal, external: m.external, arrayBuffers: m.arrayBuffers };
            process.send!({ ev: 'measured', reading });
          } else {
            process.send!({ ev: 'snapshot', path: writeHeapSnapshot(msg.path) });
          }
        });
      } catch (err) {
        process.send!({ ev: 'error', error: String((err as Error)?.stack ?? err) });
      }
    });
  });
  // The channel must not keep a stopping server alive.
  process.channel?.unref();
}
