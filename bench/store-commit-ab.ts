// Paired A/B, in one process, of what a small group commit of new messages
// costs on SQLite :memory: (the paced phase of bench:store commits 1.5-4
// writes at a time), and what a REST request's token check costs: the stores
// of two checkouts take turns, round after round, so both see the same load
// on a shared machine; CPU time of the process per commit, median and range
// over the rounds. Timed, so only the ratio within one run means something.
//
//   node --import tsx bench/store-commit-ab.ts --a DIR --b DIR [--rounds 15] [--commits 300] [--batch 2]
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const args = process.argv.slice(2);
const opt = (name: string, fallback?: string) => {
  const i = args.indexOf(`--${name}`);
  const v = i >= 0 ? args[i + 1] : fallback;
  if (v === undefined) throw new Error(`--${name} is required`);
  return v;
};
const rounds = Number(opt('rounds', '15'));
const commits = Number(opt('commits', '300'));
const batch = Number(opt('batch', '2'));

interface Arm {
  name: string;
  commit(): Promise<void>;
  check(): void;
}

async function arm(name: string, root: string): Promise<Arm> {
  const load = (path: string) => import(pathToFileURL(resolve(root, path)).href);
  const { openSqlStore } = await load('server/store/sql-store.ts');
  const store = await openSqlStore({ kind: 'sqlite', path: ':memory:' });
  const alice = await store.createUser({ username: 'alice' });
  const guild = await store.createGuild({ name: 'G', owner_id: alice.id });
  const channelId = (await store.listChannels(guild.id))[0]!.id as string;
  const write = () => ({ kind: 'create_message', id: store.ids.next(), channel_id: channelId, guild_id: guild.id, author_id: alice.id, content: 'hello there', nonce: null });
  const { issueToken, verifyToken } = await load('server/auth/token.ts');
  const secret = 'a-secret-of-some-length';
  const token = issueToken(secret, alice.id);
  let verify = (t: string): string | undefined => verifyToken(secret, t);
  try {
    const { VerifiedTokens } = await load('server/auth/token-cache.ts');
    const cache = new VerifiedTokens(() => secret);
    verify = (t) => cache.verify(t);
  } catch {
    // A checkout without the cache verifies every request.
  }
  return {
    name,
    async commit() {
      const outcomes = (await store.applyWrites(Array.from({ length: batch }, write))) as { ok: boolean }[];
      if (!outcomes.every((o) => o.ok)) throw new Error('a write failed');
    },
    check() {
      if (verify(token) !== alice.id) throw new Error('token refused');
    },
  };
}

const arms = [await arm('a', opt('a')), await arm('b', opt('b'))];
const us = () => {
  const c = process.cpuUsage();
  return c.user + c.system;
};
const commitUs = new Map<string, number[]>(arms.map((a) => [a.name, []]));
const checkUs = new Map<string, number[]>(arms.map((a) => [a.name, []]));
for (let r = -2; r < rounds; r++) {
  // Alternate which arm goes first; the first two rounds warm up and are not kept.
  for (const a of r % 2 === 0 ? arms : [...arms].reverse()) {
    let t = us();
    for (let i = 0; i < commits; i++) await a.commit();
    const c = (us() - t) / commits;
    t = us();
    for (let i = 0; i < commits * 10; i++) a.check();
    const k = (us() - t) / (commits * 10);
    if (r >= 0) {
      commitUs.get(a.name)!.push(c);
      checkUs.get(a.name)!.push(k);
    }
  }
}
const summary = (xs: number[]) => {
  const s = [...xs].sort((x, y) => x - y);
  return `${s[Math.floor(s.length / 2)]!.toFixed(1)} (${s[0]!.toFixed(1)}-${s.at(-1)!.toFixed(1)})`;
};
const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]!;
for (const a of arms) process.stdout.write(`${a.name}: commit of ${batch} ${summary(commitUs.get(a.name)!)} µs CPU, token check ${summary(checkUs.get(a.name)!)} µs CPU\n`);
const ratio = (m: Map<string, number[]>) => (median(m.get('b')!) / median(m.get('a')!)).toFixed(2);
process.stdout.write(`b/a: commit ${ratio(commitUs)}, token check ${ratio(checkUs)}; load ${(await import('node:os')).loadavg()[0]!.toFixed(1)}\n`);
process.exit(0);
