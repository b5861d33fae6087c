// A broadcast's deliveries for remote nodes, collected between the remote
// router's beginBroadcast and endBroadcast: one batch per node (more when the
// message, op or trace context changes, or the list passes half a frame),
// its targets as the wire writes them, runs of one kind.
import type { Address, Carrier, Hints, MessageOp } from '../actors/index.js';
import type { WireTargets } from './wire.js';

export interface Batch {
  node: string;
  op: MessageOp;
  message: unknown;
  carrier: Carrier | undefined;
  hints: Hints | undefined;
  /** The targets as the wire writes them: runs of one kind. */
  to: WireTargets;
  /** How many targets `to` holds. */
  count: number;
  kept: number[];
  /** About the characters `to` takes on the wire. */
  size: number;
}

export class BroadcastBatches {
  private list: Batch[] = [];

  /** `maxListSize`: about the characters of one batch's list, past which another batch starts. */
  constructor(private readonly maxListSize: number) {}

  /** One delivery for a remote node: into that node's current batch, or a new one. */
  add(target: Address, op: MessageOp, message: unknown, carrier: Carrier | undefined, hints: Hints | undefined): void {
    let batch: Batch | undefined;
    for (let i = this.list.length - 1; i >= 0; i--) {
      if (this.list[i]!.node === target.node) {
        batch = this.list[i];
        break;
      }
    }
    // An item carries one message, one op and one trace context, to a bounded list; anything else starts another item.
    const fits =
      batch !== undefined &&
      batch.message === message &&
      batch.op === op &&
      batch.size < this.maxListSize &&
      (carrier === undefined || batch.carrier === undefined || batch.carrier === carrier);
    if (!fits) {
      batch = { node: target.node, op, message, carrier: undefined, hints: undefined, to: [], count: 0, kept: [], size: 0 };
      this.list.push(batch);
    }
    if (carrier !== undefined) {
      batch!.carrier = carrier;
      batch!.hints = hints;
      batch!.kept.push(batch!.count);
    }
    const runs = batch!.to;
    const run = runs[runs.length - 1];
    if (run !== undefined && run[0] === target.kind) run[1].push(target.id);
    else {
      runs.push([target.kind, [target.id]]);
      batch!.size += target.kind.length + 8;
    }
    batch!.count++;
    batch!.size += target.id.length + 3;
  }

  /** The batches collected since the last take, in order. */
  take(): Batch[] {
    const out = this.list;
    if (out.length > 0) this.list = [];
    return out;
  }
}
