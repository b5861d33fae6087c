import { describe, expect, it } from 'vitest';
import { StoreError } from '../../../server/store/errors.js';
import { UserCache } from '../../../server/store/sql-rows.js';
import { SqliteMessages } from '../../../server/store/sqlite-messages.js';
import type { GuildWrite, MessageRecord } from '../../../server/store/store.js';
import { rawSqlite } from '../../support/sqlite.js';

// The tables INSERT_MESSAGE and the author read touch, as the migrations make them (the columns they name).
const SCHEMA = `
  create table users (id integer primary key, username text not null, global_name text, bot integer not null default 0);
  create table channels (id integer primary key, guild_id integer not null);
  create table messages (id integer primary key, channel_id integer not null, guild_id integer not null, author_id integer not null, content text not null, nonce text);
  insert into users (id, username) values (100000000000000001, 'alice');
  insert into channels (id, guild_id) values (200000000000000001, 300000000000000001);
`;

function rig() {
  const statements: string[] = [];
  const sqlite = rawSqlite(':memory:', { verbose: (sql) => statements.push(String(sql)) });
  sqlite.defaultSafeIntegers(true);
  sqlite.exec(SCHEMA);
  statements.length = 0;
  const messages = new SqliteMessages(sqlite, new UserCache(), (v) => BigInt(v));
  const count = () => Number(sqlite.prepare('select count(*) from messages').pluck().get());
  return { sqlite, messages, statements, count };
}

const post = (id: bigint, over: Partial<Extract<GuildWrite, { kind: 'create_message' }>> = {}): Extract<GuildWrite, { kind: 'create_message' }> => ({
  kind: 'create_message',
  id: String(id),
  channel_id: '200000000000000001',
  guild_id: '300000000000000001',
  author_id: '100000000000000001',
  content: `m${id}`,
  ...over,
});

const base = 400000000000000000n;

describe('SQLite new messages on the connection (sqlite-messages.ts)', () => {
  it('commits a lone message as its INSERT alone (autocommit), without BEGIN and COMMIT', () => {
    const { messages, statements, count } = rig();
    const [one] = messages.apply([post(base + 1n)]);
    expect((one as MessageRecord).id).toBe(String(base + 1n));
    expect(count()).toBe(1);
    expect(statements.filter((s) => /^(begin|commit)/i.test(s.trim()))).toEqual([]);
    // The author was read once, then kept: the second post runs the INSERT and nothing else.
    statements.length = 0;
    messages.apply([post(base + 2n)]);
    expect(statements).toHaveLength(1);
    expect(statements[0]).toMatch(/^insert into messages/);
  });

  it('still commits two or more in one transaction, each row failing alone', () => {
    const { messages, statements, count } = rig();
    const out = messages.apply([post(base + 1n), post(base + 2n, { channel_id: '200000000000000009' }), post(base + 3n)]);
    expect(out.map((o) => (o instanceof StoreError ? o.code : 'ok'))).toEqual(['ok', 'UNKNOWN_CHANNEL', 'ok']);
    expect(count()).toBe(2);
    expect(statements.filter((s) => /^(begin|commit)/i.test(s.trim()))).toHaveLength(2);
  });

  it('answers a lone message of an unknown author or channel with its error, and commits nothing', () => {
    const { messages, count } = rig();
    expect((messages.apply([post(base + 1n, { author_id: '100000000000000009' })])[0] as StoreError).code).toBe('UNKNOWN_USER');
    expect((messages.apply([post(base + 2n, { channel_id: '200000000000000009' })])[0] as StoreError).code).toBe('UNKNOWN_CHANNEL');
    expect(count()).toBe(0);
  });

  it('a lone message that breaks a constraint throws, and nothing is committed', () => {
    const { messages, count } = rig();
    messages.apply([post(base + 1n)]);
    expect(() => messages.apply([post(base + 1n)])).toThrow(/UNIQUE|PRIMARY/i);
    expect(count()).toBe(1);
  });
});
