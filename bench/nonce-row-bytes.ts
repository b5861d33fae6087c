// What messages.nonce (schema version 2) costs a SQLite database, counted in
// bytes: the same messages inserted by the version 1 INSERT into a version 1
// schema, and by today's INSERT (sqlite-messages.ts) into today's schema,
// without a nonce and with one on every message. Page counts and the table's
// payload per row from SQLite's dbstat; no timing.
//
//   node --import tsx bench/nonce-row-bytes.ts [--rows 20000]
import SQLite from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { openDatabase } from '../server/store/database.js';
import { MIGRATIONS, migrate } from '../server/store/migrations.js';
import { INSERT_MESSAGE } from '../server/store/sqlite-messages.js';
import { parseFlags } from './flags.js';

const flags = parseFlags(
  process.argv.slice(2),
  { rows: { type: 'string', default: '20000' } },
  z.object({ rows: z.coerce.number().int().min(1).max(1_000_000) }),
  (message) => {
    process.stderr.write(`nonce-row-bytes: ${message}\n`);
    process.exit(2);
  },
);

/** Version 1's INSERT (before messages.nonce): id, author, content, channel, guild, author. */
const INSERT_V1 = `insert into messages (id, channel_id, guild_id, author_id, content)
  select ?, c.id, c.guild_id, ?, ? from channels c
  where c.id = ? and c.guild_id = ? and exists (select 1 from users u where u.id = ?)`;

const dir = mkdtempSync(join(tmpdir(), 'guildhall-nonce-bytes-'));

async function measure(label: string, version: 1 | 2, nonce: (i: number) => string | null): Promise<void> {
  const path = join(dir, `${label}.db`);
  const engine = openDatabase({ kind: 'sqlite', path });
  await migrate(engine, MIGRATIONS.slice(0, version));
  await engine.close();
  const db = new SQLite(path);
  db.exec(`insert into users (id, username, username_key) values (10, 'u', 'u');
    insert into guilds (id, name, owner_id) values (20, 'g', 10);
    insert into channels (id, guild_id, name, position) values (30, 20, 'c', 0);`);
  const insert = db.prepare(version === 1 ? INSERT_V1 : INSERT_MESSAGE);
  const base = 1577665437078913024n;
  db.transaction(() => {
    for (let i = 0; i < flags.rows; i++) {
      const id = base + BigInt(i) * 4096n;
      const content = `message ${i} of the run`;
      if (version === 1) insert.run(id, 10, content, 30, 20, 10);
      else insert.run(id, 10, content, nonce(i), 30, 20, 10);
    }
  })();
  const stat = (name: string) => db.prepare('select count(*) as pages, coalesce(sum(payload), 0) as payload from dbstat where name = ?').get(name) as { pages: number; payload: number };
  const table = stat('messages');
  const index = version === 1 ? undefined : stat('messages_guild_nonce');
  process.stdout.write(
    `${label.padEnd(14)} messages: ${table.pages} pages, ${(table.payload / flags.rows).toFixed(2)} payload bytes/row; messages_guild_nonce: ${index === undefined ? '-' : `${index.pages} pages`}\n`,
  );
  db.close();
}

try {
  await measure('v1', 1, () => null);
  await measure('v2 no nonce', 2, () => null);
  await measure('v2 all nonce', 2, (i) => `string:n-${i}`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
