// Instructions a delivery costs in the actor layer, by the way a broadcast
// reaches its targets: `home`, the guild's own node (ActorSystem.broadcast over
// the running actors' refs: the relay, the enqueue, the clock shared by 16);
// `received`, a broadcast from another node as cluster/remote-inbound.ts
// delivers it (its held list bound to the running cells, one `deliver` each,
// the loop run through ActorSystem.deliverBroadcast); `received-unshared`, the
// same loop outside deliverBroadcast (each enqueue reads the clock, as before
// 2026-12-02 16:10). Each mode in its own process under callgrind; setup is the
// same in all three, so the difference of two totals over the deliveries is the
// difference per delivery:
//
//   for m in home received received-unshared; do valgrind --tool=callgrind --callgrind-out-file=/tmp/cdc-$m.%p node --import tsx bench/cluster-delivery-counted.ts $m; done
//   (then callgrind_annotate each: the PROGRAM TOTALS line)
import { ActorSystem, type ActorRef } from '../actors/index.js';

const mode = process.argv[2];
if (mode !== 'home' && mode !== 'received' && mode !== 'received-unshared') {
  process.stderr.write('usage: node --import tsx bench/cluster-delivery-counted.ts home|received|received-unshared [--targets 1000] [--rounds 100]\n');
  process.exit(2);
}
const flag = (name: string, d: number) => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : d;
};
const N = flag('--targets', 1000);
const ROUNDS = flag('--rounds', 100);

const system = new ActorSystem({ node: 'rx', onError: () => {} });
let got = 0;
const refs: ActorRef<{ cast: unknown }>[] = [];
for (let i = 0; i < N; i++) {
  const key = `session:${(0x10000000 + i * 7919).toString(16)}abcdef0123456789abcdef.rx`;
  refs.push(system.spawn<null, { cast: unknown }>({ kind: 'session', init: () => null, handleCast: () => void got++ }, { key }));
}
// As remote-inbound binds a held list: the running actors' own addresses.
const to = refs.map((r) => system.refFor(r.address).address);
const message = { type: 'dispatch' };
const drain = () => new Promise((r) => setImmediate(r));
const received = () => {
  for (let i = 0; i < to.length; i++) system.deliver(to[i]!, 'cast', message);
};
for (let r = 0; r < ROUNDS; r++) {
  if (mode === 'home') system.broadcast(refs, message);
  else if (mode === 'received') system.deliverBroadcast(received);
  else received();
  while (system.scheduler.pending > 0) await drain();
}
if (got !== N * ROUNDS) throw new Error(`delivered ${got} of ${N * ROUNDS}`);
process.stdout.write(`${mode}: ${got} deliveries\n`);
