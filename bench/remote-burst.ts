// Two remote routers in one process over the local NATS: tx broadcasts bursts
// of --burst messages back to back (as a guild's commit batch) to --targets
// actors on rx. Prints NATS frames and bytes per broadcast (the routers' own
// counters: exact) and this process's CPU per delivery (both sides). --root
// loads the runtime from another checkout, so two versions of the wire can be
// run one after the other with the same script:
//
//   node --import tsx bench/remote-burst.ts [--root /path/to/checkout] [--targets 1500] [--burst 20] [--bursts 15]
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { connect } from '@nats-io/transport-node';

const { values } = parseArgs({
  options: { root: { type: 'string', default: '.' }, targets: { type: 'string', default: '1500' }, burst: { type: 'string', default: '20' }, bursts: { type: 'string', default: '15' } },
});
const root = resolve(values.root);
const N = Number(values.targets);
const K = Number(values.burst);
const BURSTS = Number(values.bursts);
const WARMUP = 2;

const { ActorSystem } = await import(`${root}/actors/index.ts`);
const { NatsRemoteRouter } = await import(`${root}/cluster/index.ts`);
const { registerServerWireTypes } = await import(`${root}/server/cluster/dispatch-wire.ts`);
const { EncodedDispatch } = await import(`${root}/server/gateway/dispatch.ts`);
registerServerWireTypes();

const prefix = `remote_burst_${process.pid}`;
async function node(name: string) {
  const system = new ActorSystem({ node: name, onError: () => {} });
  const nats = await connect({ servers: process.env.GUILDHALL_NATS_URL ?? 'nats://127.0.0.1:4222' });
  const router = await new NatsRemoteRouter({ system, nats, prefix }).start();
  return { system, router, nats };
}
const tx = await node('tx');
const rx = await node('rx');
let got = 0;
const keys = Array.from({ length: N }, (_, i) => `session:${(0x10000000 + i * 7919).toString(16)}abcdef0123.rx`);
for (const key of keys) rx.system.spawn({ kind: 'session', init: () => null, handleCast: () => void got++ }, { key });
const refs = keys.map((id) => tx.system.refFor({ node: 'rx', id, kind: 'session' }));
const head = `{"op":0,"t":"MESSAGE_CREATE","d":${JSON.stringify({ id: '1234567890123456789', channel_id: '1', content: 'x'.repeat(500) })},"s":`;
const cpu = () => {
  const u = process.cpuUsage();
  return u.user + u.system;
};
const samples: number[] = [];
let frames0 = 0;
let bytes0 = 0;
for (let b = 0; b < BURSTS + WARMUP; b++) {
  if (b === WARMUP) {
    frames0 = tx.router.stats.framesSent;
    bytes0 = tx.router.stats.bytesSent;
  }
  const target = got + N * K;
  const t0 = cpu();
  for (let k = 0; k < K; k++) tx.system.broadcast(refs, { type: 'dispatch', event: new EncodedDispatch('MESSAGE_CREATE', undefined, head) });
  while (got < target) await new Promise((r) => setTimeout(r, 1));
  if (b >= WARMUP) samples.push((cpu() - t0) / (N * K));
}
samples.sort((a, b) => a - b);
const broadcasts = BURSTS * K;
process.stdout.write(
  `${JSON.stringify({
    root,
    framesPerBroadcast: (tx.router.stats.framesSent - frames0) / broadcasts,
    bytesPerBroadcast: Math.round((tx.router.stats.bytesSent - bytes0) / broadcasts),
    cpuUsPerDelivery: +samples[samples.length >> 1]!.toFixed(3),
    min: +samples[0]!.toFixed(3),
    max: +samples.at(-1)!.toFixed(3),
  })}\n`,
);
for (const n of [tx, rx]) {
  await n.router.close();
  n.system.shutdown();
  await n.nats.close();
}
