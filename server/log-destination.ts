// Where log lines go: a destination that never blocks the process, whatever
// state stdout is in.
//
// pino's default destination (sonic-boom) writes to fd 1 itself and, on
// process exit, calls flushSync, which sleeps and retries forever on EAGAIN
// (a reader that stopped reading) and EPIPE (a reader that is gone), so a
// stalled log pipe hung every shutdown (issue 16, bug 1). This one writes
// through process.stdout instead: for a pipe that is an asynchronous libuv
// stream, so a full pipe only queues, and it has no exit hook. What is still
// queued at exit is lost, which is the right trade for a supervisor whose log
// pipe stalled: the deploy goes on, the lines do not.
//
// The queue is bounded: past `maxBufferedBytes` waiting to be written, lines
// are dropped and counted (`dropped`, exported as a metric). After an error
// (EPIPE) the stream is dead and every later line is dropped.
import type { DestinationStream } from 'pino';

/** What the destination writes to: a subset of a Node writable stream. */
export interface LogSink {
  write(chunk: string): boolean;
  readonly writableLength: number;
  on(event: 'error', listener: (err: Error) => void): unknown;
}

export const DEFAULT_LOG_BUFFER_BYTES = 1024 * 1024;

export class NonBlockingDestination implements DestinationStream {
  /** Lines not written because the queue was full or the stream had failed. */
  dropped = 0;
  private broken = false;

  constructor(
    private readonly sink: LogSink,
    private readonly maxBufferedBytes = DEFAULT_LOG_BUFFER_BYTES,
  ) {
    // Without a listener an EPIPE on stdout would be thrown as an uncaught exception.
    sink.on('error', () => {
      this.broken = true;
    });
  }

  write(line: string): void {
    if (this.broken || this.sink.writableLength > this.maxBufferedBytes) {
      this.dropped++;
      return;
    }
    this.sink.write(line);
  }

  /** Bytes still waiting to be written. */
  get pending(): number {
    return this.broken ? 0 : this.sink.writableLength;
  }
}

let stdoutDestination: NonBlockingDestination | undefined;

/** The process-wide destination on stdout (one, so several servers in a process share one error listener). */
export function stdoutLogDestination(): NonBlockingDestination {
  stdoutDestination ??= new NonBlockingDestination(process.stdout);
  return stdoutDestination;
}

/**
 * Resolves once stdout's queue is empty or after `ms`, whichever is first:
 * lets the last lines of a clean shutdown out without ever waiting on a stalled reader.
 */
export function drainStdout(ms: number): Promise<void> {
  return new Promise((resolve) => {
    const deadline = Date.now() + ms;
    const check = (): void => {
      if (process.stdout.writableLength === 0 || Date.now() >= deadline) resolve();
      else setTimeout(check, 10).unref();
    };
    check();
  });
}
