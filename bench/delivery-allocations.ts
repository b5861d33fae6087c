// Bytes allocated per broadcast delivery, counted, not timed: the actor
// runtime's delivery with the server's wiring (bench/actor-rigs.ts fanoutRig:
// metrics, then the Transport, tracing unsampled, tail capture on), each
// session handling one message per broadcast as in a paced run. V8's heap
// use is read before and after a window of broadcasts; a window in which a
// GC ran is thrown away (a large young generation makes that rare), so the
// difference is what the window allocated. Allocation does not depend on the
// machine's load, so this runs on a loaded machine as well as on a quiet one.
// `--case topic` counts a guild topic's broadcast alone instead (GuildTopic,
// --sessions subscribers, an adapter that delivers nothing): what choosing
// the recipients of a MESSAGE_CREATE costs, per broadcast.
//
//   node --max-semi-space-size=64 --import tsx bench/delivery-allocations.ts [--case delivery|topic] [--sessions 1000] [--windows 9]
//     [--broadcasts 20] [--warmup 2000]
import { PerformanceObserver } from 'node:perf_hooks';
import { getHeapStatistics } from 'node:v8';
import { z } from 'zod';
import type { ActorRef } from '../actors/index.js';
import { GatewayIntentBits } from '../server/gateway/protocol.js';
import type { SessionProtocol } from '../server/gateway/session-protocol.js';
import { GuildTopic } from '../server/pubsub/guild-pubsub.js';
import { fanoutRig } from './actor-rigs.js';
import { parseFlags } from './flags.js';

const o = parseFlags(
  process.argv.slice(2),
  {
    case: { type: 'string', default: 'delivery' },
    sessions: { type: 'string', default: '1000' },
    windows: { type: 'string', default: '9' },
    broadcasts: { type: 'string', default: '20' },
    warmup: { type: 'string', default: '2000' },
  },
  z.object({
    case: z.enum(['delivery', 'topic']),
    sessions: z.coerce.number().int().min(1).max(100_000),
    windows: z.coerce.number().int().min(1).max(1_000),
    broadcasts: z.coerce.number().int().min(1).max(10_000),
    warmup: z.coerce.number().int().min(0).max(1_000_000),
  }),
  (message) => {
    process.stderr.write(`delivery-allocations: ${message}\nusage: node --max-semi-space-size=64 --import tsx bench/delivery-allocations.ts [--case delivery|topic] [--sessions N] [--windows N] [--broadcasts N] [--warmup N]\n`);
    process.exit(2);
  },
);

let gcs = 0;
new PerformanceObserver((list) => void (gcs += list.getEntries().length)).observe({ entryTypes: ['gc'] });

/** One broadcast to every session, settled. */
function rigFor(c: 'delivery' | 'topic'): { broadcast(i: number): Promise<unknown> } {
  if (c === 'delivery') return fanoutRig(o.sessions, 'unsampled', true);
  const topic = new GuildTopic('g', { broadcast: (list) => ({ delivered: list.length, kept: 0 }) }, { fanout: () => undefined });
  const intents = GatewayIntentBits.GuildMessages | GatewayIntentBits.MessageContent;
  for (let i = 0; i < o.sessions; i++) {
    // Refs are only listed here, never sent to.
    const ref = { address: { node: 'local', id: `s${i}`, kind: 'session' } } as unknown as ActorRef<SessionProtocol>;
    topic.subscribe(`s${i}`, { ref, userId: `u${i}`, intents });
  }
  const data = { content: 'hi' };
  const stripped = { content: '' };
  return { broadcast: async () => topic.broadcast('MESSAGE_CREATE', data, stripped) };
}

const rig = rigFor(o.case);
for (let i = 0; i < o.warmup; i++) await rig.broadcast(i);

const perDelivery: number[] = [];
let skipped = 0;
for (let w = 0; perDelivery.length < o.windows && w < o.windows * 4; w++) {
  // Let a pending GC observation arrive before the window opens.
  await new Promise((r) => setImmediate(r));
  const gcsBefore = gcs;
  const before = getHeapStatistics().used_heap_size;
  for (let i = 0; i < o.broadcasts; i++) await rig.broadcast(i);
  const after = getHeapStatistics().used_heap_size;
  await new Promise((r) => setImmediate(r));
  if (gcs !== gcsBefore || after < before) {
    skipped++;
    continue;
  }
  perDelivery.push((after - before) / (o.broadcasts * o.sessions));
}
perDelivery.sort((a, b) => a - b);
const median = perDelivery[Math.floor(perDelivery.length / 2)];
console.log(
  JSON.stringify({
    case: o.case,
    sessions: o.sessions,
    windows: perDelivery.length,
    skipped_for_gc: skipped,
    bytes_per_delivery_median: median === undefined ? null : Math.round(median * 10) / 10,
    bytes_per_delivery: perDelivery.map((b) => Math.round(b * 10) / 10),
    bytes_per_broadcast_median: median === undefined ? null : Math.round(median * o.sessions),
  }),
);
process.exit(0);
