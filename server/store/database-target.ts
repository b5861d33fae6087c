// Which database DATABASE_URL names, and SQLite's durability setting: plain
// types the configuration (server/config.ts) parses into, apart from the code
// that opens the database (database.ts), which reports bad values as ConfigErrors.
export type DatabaseTarget = { kind: 'sqlite'; path: string } | { kind: 'postgres'; url: string };

/**
 * SQLite's `synchronous` in WAL mode (https://www.sqlite.org/pragma.html#pragma_synchronous):
 * FULL syncs the WAL on every commit (a power cut loses nothing committed);
 * NORMAL syncs only at checkpoints (a power cut may lose the last commits, a
 * process crash loses nothing); OFF leaves it to the OS.
 */
export type SqliteSynchronous = 'full' | 'normal' | 'off';
