// A SQLite file's commits of new messages, on a thread of their own.
// better-sqlite3 is synchronous: on the main thread, a commit with
// synchronous=FULL holds the event loop for its fsync, which is milliseconds
// on a quiet disk and tens of them on a busy one, and every request and
// delivery of the server waits behind it. Here a worker owns a second
// connection to the same file (WAL: one writer, readers beside it) and runs
// BEGIN, the inserts, COMMIT; the main thread only posts the rows and gets,
// per row, whether it went in. It answers after the commit is durable, so
// acknowledging from there keeps "nothing acknowledged is lost".
//
// The worker's source is plain CommonJS evaluated as a string: it needs no
// TypeScript loader and runs the same from src or dist.
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import { StoreError } from './errors.js';

/** One new message as the INSERT binds it: id, author, content, channel, guild, and an enforce_nonce post's nonce. */
export type MessageRow = [id: bigint, author: bigint, content: string, channel: bigint, guild: bigint, nonce?: string | null];

export interface SqliteWriterOptions {
  path: string;
  /** The INSERT of one message, parameters: id, author, content, nonce, channel, guild, author (sqlite-messages.ts). */
  insert: string;
  synchronous: string;
  busyTimeoutMs: number;
  binding?: string;
}

const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const SQLite = require(workerData.module);
const db = new SQLite(workerData.path, workerData.binding === undefined ? {} : { nativeBinding: workerData.binding });
db.defaultSafeIntegers(true);
db.pragma('synchronous = ' + workerData.synchronous);
db.pragma('busy_timeout = ' + workerData.busyTimeoutMs);
db.pragma('foreign_keys = ON');
const insert = db.prepare(workerData.insert);
const commit = db.transaction((rows) => rows.map((r) => insert.run(r[0], r[1], r[2], r[5] === undefined ? null : r[5], r[3], r[4], r[1]).changes === 1));
parentPort.on('message', (m) => {
  if (m === 'close') {
    db.close();
    parentPort.close();
    return;
  }
  try {
    parentPort.postMessage({ seq: m.seq, inserted: commit.immediate(m.rows) });
  } catch (err) {
    parentPort.postMessage({ seq: m.seq, error: { message: String(err && err.message), code: err && err.code } });
  }
});
parentPort.postMessage({ ready: true });
`;

interface Answer {
  seq?: number;
  inserted?: boolean[];
  error?: { message: string; code?: string };
  ready?: boolean;
}

export class SqliteWriter {
  private readonly worker: Worker;
  private readonly waiting = new Map<number, { resolve(inserted: boolean[]): void; reject(err: unknown): void }>();
  private seq = 0;
  private failed: Error | undefined;
  private readonly exited: Promise<void>;
  /** Resolves once the worker's connection is open and its statement prepared; rejects if it could not. */
  readonly ready: Promise<void>;

  constructor(options: SqliteWriterOptions) {
    this.worker = new Worker(WORKER_SOURCE, {
      eval: true,
      // No TypeScript loader or profiler flags of the main thread: the source is plain JS.
      execArgv: [],
      workerData: { ...options, module: createRequire(import.meta.url).resolve('better-sqlite3') },
    });
    let opened: () => void = () => {};
    let notOpened: (err: unknown) => void = () => {};
    this.ready = new Promise<void>((resolve, reject) => {
      opened = resolve;
      notOpened = reject;
    });
    // The thread keeps the process alive only while it owes an answer: its start, or a commit. A process
    // that exits without closing the store is not held up by an idle thread, and one with nothing else on
    // its event loop (a start-up, a seed before the server listens) still gets the answer it waits for.
    this.ready.then(() => this.idle(), () => undefined);
    this.worker.on('message', (m: Answer) => {
      if (m.ready === true) return opened();
      const w = this.waiting.get(m.seq!);
      if (w === undefined) return;
      this.waiting.delete(m.seq!);
      this.idle();
      if (m.inserted !== undefined) w.resolve(m.inserted);
      else w.reject(Object.assign(new Error(m.error?.message ?? 'the SQLite writer failed'), { code: m.error?.code }));
    });
    this.worker.on('error', (err) => this.fail(err));
    this.exited = new Promise((resolve) =>
      this.worker.once('exit', () => {
        this.fail(new Error('the SQLite writer thread exited'));
        notOpened(this.failed);
        resolve();
      }),
    );
  }

  /** Whether the thread still takes writes (after a failure the store commits on the main thread). */
  get alive(): boolean {
    return this.failed === undefined;
  }

  /** Commits the rows in one transaction; per row, whether it went in. Rejects with the driver's error (nothing committed). */
  commit(rows: readonly MessageRow[]): Promise<boolean[]> {
    if (this.failed !== undefined) return Promise.reject(new StoreError('UNAVAILABLE', this.failed.message, { cause: this.failed }));
    return new Promise((resolve, reject) => {
      const seq = ++this.seq;
      if (this.waiting.size === 0) this.worker.ref();
      this.waiting.set(seq, { resolve, reject });
      this.worker.postMessage({ seq, rows });
    });
  }

  async close(): Promise<void> {
    if (this.failed === undefined) {
      // Owed an answer too: the connection's close (a WAL checkpoint) finishes before the process may end.
      this.worker.ref();
      this.worker.postMessage('close');
    }
    await this.exited;
  }

  /** Unreferenced when no answer is owed (see the constructor). */
  private idle(): void {
    if (this.waiting.size === 0) this.worker.unref();
  }

  private fail(err: Error): void {
    this.failed ??= err;
    for (const w of this.waiting.values()) w.reject(new StoreError('UNAVAILABLE', 'the SQLite writer failed', { cause: err }));
    this.waiting.clear();
  }
}
