// The cost of a broadcast frame on the wire, per delivery, both sides: wire
// version 1 (one frame per broadcast, the target list inside the one JSON
// text the codec's reviver walks) against version 2 (the outbox writes a
// target list once for the broadcasts that share it; the receiver reads the
// header by plain JSON.parse and only the messages through the codec), one
// and ten broadcasts a frame, and version 3 (the list defined once per pair
// of nodes, then named by id: target-lists.ts). CPU time of this process only
// (no NATS, no sockets): what the wire costs, not the node.
//
//   node --import tsx bench/wire-frame.bench.ts [--targets 1500] [--reps 9]
import { parseArgs } from 'node:util';
import { type Address, ActorSystem } from '../actors/index.js';
import { decodeValue, encodeValue } from '../cluster/index.js';
import { Outbox } from '../cluster/outbox.js';
import { KnownLists, SentLists } from '../cluster/target-lists.js';
import { type Target, type WireTargets, originOf, splitFrame } from '../cluster/wire.js';
import { registerServerWireTypes } from '../server/cluster/dispatch-wire.js';
import { EncodedDispatch } from '../server/gateway/dispatch.js';

const { values } = parseArgs({ options: { targets: { type: 'string', default: '1500' }, reps: { type: 'string', default: '9' } } });
const N = Number(values.targets);
const REPS = Number(values.reps);

registerServerWireTypes();
const system = new ActorSystem({ node: 'n2' });
const refFor = (a: Address) => system.refFor(a);
const to: Target[] = Array.from({ length: N }, (_, i) => [`session:${(0x10000000 + i * 7919).toString(16)}abcdef0123.n2`, 'session']);
const head = `{"op":0,"t":"MESSAGE_CREATE","d":${JSON.stringify({ id: '1234567890123456789', channel_id: '1234567890123456780', guild_id: '1234567890123456001', author: { id: '42', username: 'someone', discriminator: '0', avatar: null, global_name: 'Someone' }, content: 'x'.repeat(200), timestamp: new Date(0).toISOString(), edited_timestamp: null, tts: false, mention_everyone: false, mentions: [], mention_roles: [], attachments: [], embeds: [], pinned: false, type: 0, member: { roles: [], joined_at: new Date(0).toISOString(), deaf: false, mute: false, flags: 0 } })},"s":`;
const message = { type: 'dispatch', event: new EncodedDispatch('MESSAGE_CREATE', undefined, head) };
const text = encodeValue(message);
const v1 = `{"k":"b","op":"cast","to":${JSON.stringify(to)},"m":${text}}`;
const runs: WireTargets = [['session', to.map(([id]) => id)]];
const v2 = (k: number) => `{"i":[${Array.from({ length: k }, () => '{"k":"b","op":"cast","t":0}').join(',')}],"t":[${JSON.stringify(runs)}]}\n${Array.from({ length: k }, () => text).join('\n')}`;

function addresses(list: [string, string[]][]): Address[] {
  const out: Address[] = [];
  for (const [kind, ids] of list) for (const id of ids) out.push({ node: 'n2', id, kind });
  return out;
}

const cases: Record<string, { run: () => void; deliveries: number }> = {
  'v1, 1 broadcast a frame': {
    deliveries: N,
    run: () => {
      const f = decodeValue(v1, refFor) as { to: Target[]; m: unknown };
      for (const [id, kind] of f.to) void { node: 'n2', id, kind };
    },
  },
  'v2, 1 broadcast a frame': { deliveries: N, run: () => read(v2(1)) },
  'v2, 10 broadcasts a frame': { deliveries: 10 * N, run: () => read(v2(10)) },
};
// Each broadcast collects a list of its own (the same ids): what the outbox compares.
const lists = Array.from({ length: 10 }, (): WireTargets => [['session', to.map(([id]) => id)]]);
const encoder = new TextEncoder();
let sink = 0;
// Budget 0: nothing interned, every frame carries its list (what version 2 sent).
const outbox = new Outbox({ maxFrameBytes: 256 * 1024, lists: new SentLists(0), origin: originOf('n1', 'i1'), publish: (_node, bytes) => void (sink += bytes.length), onError: (err) => { throw err; } });
const outbox3 = new Outbox({ maxFrameBytes: 256 * 1024, lists: new SentLists(100_000), origin: originOf('n1', 'i1'), publish: (_node, bytes) => void (sink += bytes.length), onError: (err) => { throw err; } });
cases['send v1, 1 broadcast a frame'] = { deliveries: N, run: () => void (sink += encoder.encode(`{"k":"b","op":"cast","to":${JSON.stringify(to)},"m":${text}}`).length) };
cases['send v2, 1 broadcast a frame'] = {
  deliveries: N,
  run: () => {
    outbox.addBroadcast('n2', 'cast', lists[0]!, N, text);
    outbox.flush();
  },
};
cases['send v3, 1 broadcast a frame (list held)'] = {
  deliveries: N,
  run: () => {
    outbox3.addBroadcast('n2', 'cast', lists[0]!, N, text);
    outbox3.flush();
  },
};
cases['send v2, 10 broadcasts a frame'] = {
  deliveries: 10 * N,
  run: () => {
    for (const l of lists) outbox.addBroadcast('n2', 'cast', l, N, text);
    outbox.flush();
  },
};
// Version 2's header with the sender fields splitFrame now asks for (a few characters).
const withOrigin = (frame: string) => frame.replace('}\n', ',"f":"n1","s":"i1"}\n');
const frames = { v2_1: withOrigin(v2(1)), v2_10: withOrigin(v2(10)) };
cases['v2, 1 broadcast a frame']!.run = () => read(frames.v2_1);
cases['v2, 10 broadcasts a frame']!.run = () => read(frames.v2_10);

// Version 3: the receiver holds list 1 already; a frame names it.
const known = new KnownLists('n2', 200_000);
known.sameIncarnation('n1', 'i1');
known.resolve('n1', { d: 1, l: runs });
const v3 = `{"i":[{"k":"b","op":"cast","t":0}],"t":[{"r":1}],"f":"n1","s":"i1"}\n${text}`;
cases['v3, 1 broadcast a frame (list held)'] = {
  deliveries: N,
  run: () => {
    const { header, texts } = splitFrame(v3);
    const to = known.resolve(header.f, header.t![0]!);
    decodeValue(texts[0]!, refFor);
    void to;
  },
};

function read(frame: string): void {
  const { header, texts } = splitFrame(frame);
  const to = addresses(header.t![0] as unknown as WireTargets);
  for (let i = 0; i < header.i.length; i++) {
    decodeValue(texts[i]!, refFor);
    void to;
  }
}

const cpu = () => {
  const u = process.cpuUsage();
  return u.user + u.system;
};
const results: Record<string, number[]> = {};
for (let rep = 0; rep < REPS + 1; rep++) {
  for (const [name, c] of Object.entries(cases)) {
    const loops = Math.max(1, Math.round(200_000 / c.deliveries));
    const t0 = cpu();
    for (let i = 0; i < loops; i++) c.run();
    const us = (cpu() - t0) / (loops * c.deliveries);
    if (rep > 0) (results[name] ??= []).push(us * 1000);
  }
}
process.stdout.write(`frame bytes: v1 ${v1.length}, v2 (1) ${frames.v2_1.length}, v2 (10) ${frames.v2_10.length}; ${N} targets, message ${text.length} characters\n`);
for (const [name, xs] of Object.entries(results)) {
  xs.sort((a, b) => a - b);
  process.stdout.write(`${name}: ${xs[xs.length >> 1]!.toFixed(1)} ns/delivery (${xs[0]!.toFixed(1)}-${xs.at(-1)!.toFixed(1)})\n`);
}
system.shutdown();
