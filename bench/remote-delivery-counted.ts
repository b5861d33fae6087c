// Instructions a delivery costs on the receiving node, by the address it is
// given: the plain {node, id, kind} a target list is read into, or the running
// actor's own address (what cluster/remote-inbound.ts binds a held list to).
// Run each way in its own process under callgrind; the difference of the two
// totals over the deliveries is the per-delivery cost of the registry lookup
// (setup is the same in both):
//
//   valgrind --tool=callgrind --callgrind-out-file=/tmp/plain.%p node --import tsx bench/remote-delivery-counted.ts plain
//   valgrind --tool=callgrind --callgrind-out-file=/tmp/bound.%p node --import tsx bench/remote-delivery-counted.ts bound
//   (then callgrind_annotate each: the PROGRAM TOTALS line)
import { ActorSystem, type Address } from '../actors/index.js';

const mode = process.argv[2];
if (mode !== 'plain' && mode !== 'bound') {
  process.stderr.write('usage: node --import tsx bench/remote-delivery-counted.ts plain|bound [--targets 1000] [--rounds 200]\n');
  process.exit(2);
}
const flag = (name: string, d: number) => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : d;
};
const N = flag('--targets', 1000);
const ROUNDS = flag('--rounds', 200);

const system = new ActorSystem({ node: 'rx', onError: () => {} });
let got = 0;
const plain: Address[] = [];
for (let i = 0; i < N; i++) {
  const key = `session:${(0x10000000 + i * 7919).toString(16)}abcdef0123456789abcdef.rx`;
  system.spawn({ kind: 'session', init: () => null, handleCast: () => void got++ }, { key });
  // As a target list is read from a frame: new strings, new objects.
  plain.push(JSON.parse(JSON.stringify({ node: 'rx', id: key, kind: 'session' })) as Address);
}
const to = mode === 'plain' ? plain : plain.map((a) => system.refFor(a).address);
const message = { type: 'dispatch' };
const drain = () => new Promise((r) => setImmediate(r));
for (let r = 0; r < ROUNDS; r++) {
  for (let i = 0; i < to.length; i++) system.deliver(to[i]!, 'cast', message);
  while (system.scheduler.pending > 0) await drain();
}
if (got !== N * ROUNDS) throw new Error(`delivered ${got} of ${N * ROUNDS}`);
process.stdout.write(`${mode}: ${got} deliveries\n`);
