// Worker-thread entry: one SessionHost per worker, driven over the parent
// port with the same commands the main thread uses in-process.
import { parentPort, workerData } from 'node:worker_threads';
import { type HostCommand, type HostInit, SessionHost } from './host.js';

if (!parentPort) throw new Error('client-sim/worker.ts runs only as a worker thread');
const port = parentPort;
const host = new SessionHost(workerData as HostInit);

port.on('message', (msg: { id: number; cmd: HostCommand }) => {
  host.handle(msg.cmd).then(
    (value) => port.postMessage({ id: msg.id, ok: true, value }),
    (err: unknown) => port.postMessage({ id: msg.id, ok: false, error: String((err as Error)?.stack ?? err) }),
  );
});
