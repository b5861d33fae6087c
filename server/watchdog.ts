// The shutdown's last resort: a timer on another thread.
//
// The backstop timer in main.ts runs on the event loop, so anything that
// blocks the loop (a synchronous write to a stalled pipe, a runaway loop in
// a handler) would keep it from ever firing (issue 16, bug 1). This timer
// runs in a worker thread with its own loop and ends the process with
// SIGKILL when the main thread is still alive at the deadline. process.exit
// terminates the worker with everything else, so a clean shutdown never sees it.
import { Worker } from 'node:worker_threads';

const SOURCE = `
const { workerData } = require('node:worker_threads');
setTimeout(() => process.kill(workerData.pid, 'SIGKILL'), workerData.ms);
`;

/** Starts the watchdog: the process is killed `ms` from now unless it has exited. */
export function startExitWatchdog(ms: number): void {
  // No execArgv: a loader such as tsx (--import) would make the worker's start wait on the main thread.
  const worker = new Worker(SOURCE, { eval: true, execArgv: [], workerData: { pid: process.pid, ms } });
  // The watchdog must never be the reason the process stays up.
  worker.unref();
}
