// The store's own error codes. The store knows nothing of HTTP: the REST
// edge (server/rest/error-handler.ts) picks status and Discord code once.
//
// Driver errors are mapped here, in one place, from what better-sqlite3 and
// pg actually raise: SQLite result codes (https://www.sqlite.org/rescode.html),
// PostgreSQL SQLSTATEs (https://www.postgresql.org/docs/current/errcodes-appendix.html)
// and Node's socket errors.

export type StoreErrorCode =
  | 'UNKNOWN_GUILD'
  | 'UNKNOWN_CHANNEL'
  | 'UNKNOWN_MESSAGE'
  | 'UNKNOWN_USER'
  | 'UNKNOWN_MEMBER'
  | 'USERNAME_TAKEN'
  | 'MAX_REACTIONS'
  /** The database cannot be reached, the connection was lost, or it is busy: retry later. */
  | 'UNAVAILABLE'
  /** A read-only file or database. */
  | 'READ_ONLY'
  | 'DISK_FULL';

/** Codes that say "the database is not usable right now", as opposed to "that thing does not exist". */
export const INFRASTRUCTURE_CODES: ReadonlySet<StoreErrorCode> = new Set(['UNAVAILABLE', 'READ_ONLY', 'DISK_FULL']);

export class StoreError extends Error {
  readonly code: StoreErrorCode;

  constructor(code: StoreErrorCode, message: string = code, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StoreError';
    this.code = code;
  }
}

export function isStoreError(err: unknown, code?: StoreErrorCode): err is StoreError {
  return err instanceof StoreError && (code === undefined || err.code === code);
}

// Node socket errors that mean "no usable connection to the server".
const SOCKET_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);

// pg raises these as plain Errors without a code when a connection dies or the pool cannot connect in time.
const PG_CONNECTION_MESSAGES = [
  'Connection terminated',
  'connection terminated',
  'Client has encountered a connection error',
  'timeout exceeded when trying to connect',
  'Client was closed and is not queryable',
  'Cannot use a pool after calling end on the pool',
];

/**
 * The StoreError for an infrastructure failure of either driver, or undefined
 * when `err` is something else (a bug, a constraint the caller must handle):
 * those are not ours to disguise as "try again later".
 */
export function infrastructureError(err: unknown): StoreError | undefined {
  if (err instanceof StoreError) return INFRASTRUCTURE_CODES.has(err.code) ? err : undefined;
  if (typeof err !== 'object' || err === null) return undefined;
  const code = (err as { code?: unknown }).code;
  const message = String((err as { message?: unknown }).message ?? '');
  if (typeof code === 'string') {
    // better-sqlite3: extended result codes such as SQLITE_READONLY_DBMOVED, SQLITE_IOERR_WRITE.
    if (code.startsWith('SQLITE_READONLY')) return new StoreError('READ_ONLY', `database is read-only: ${message}`, { cause: err });
    if (code === 'SQLITE_FULL') return new StoreError('DISK_FULL', `database disk is full: ${message}`, { cause: err });
    if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED')) return new StoreError('UNAVAILABLE', `database is busy: ${message}`, { cause: err });
    if (code.startsWith('SQLITE_IOERR') || code.startsWith('SQLITE_CANTOPEN')) return new StoreError('UNAVAILABLE', `database I/O failed: ${message}`, { cause: err });
    // PostgreSQL SQLSTATE classes: 08 connection exception, 57P0x shutdown / cannot connect now,
    // 53 insufficient resources (53100 disk full), 25006 read-only transaction (a hot standby).
    if (code === '53100') return new StoreError('DISK_FULL', `database disk is full: ${message}`, { cause: err });
    if (code === '25006') return new StoreError('READ_ONLY', `database is read-only: ${message}`, { cause: err });
    if (code.startsWith('08') || code.startsWith('57P') || code.startsWith('53')) {
      return new StoreError('UNAVAILABLE', `database unavailable: ${message}`, { cause: err });
    }
    if (SOCKET_CODES.has(code)) return new StoreError('UNAVAILABLE', `database unreachable: ${message}`, { cause: err });
  }
  if (PG_CONNECTION_MESSAGES.some((m) => message.includes(m))) {
    return new StoreError('UNAVAILABLE', `database connection lost: ${message}`, { cause: err });
  }
  // pg's connect() failures against several addresses come as an AggregateError of socket errors.
  if (err instanceof AggregateError && err.errors.some((e) => infrastructureError(e) !== undefined)) {
    return new StoreError('UNAVAILABLE', `database unreachable: ${err.errors.map((e: Error) => e.message).join('; ')}`, { cause: err });
  }
  return undefined;
}

/** `err` as the StoreError it stands for when it is an infrastructure failure; otherwise unchanged. */
export function mapDriverError(err: unknown): unknown {
  return infrastructureError(err) ?? err;
}

/** Whether a driver error is a UNIQUE violation (SQLite or PostgreSQL 23505). */
export function isUniqueViolation(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY' || code === '23505';
}
