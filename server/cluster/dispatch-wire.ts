// EncodedDispatch crosses nodes as a registered wire type (cluster/codec.ts):
// its encoded head travels as text, so a broadcast is encoded once by the
// guild, carried once per node in the remote router's frame, and rebuilt once
// per node when the frame is decoded; every session there shares it, as on
// the guild's own node.
import { type WireType, registerWireType } from '../../cluster/index.js';
import { EncodedDispatch } from '../gateway/dispatch.js';

export const DISPATCH_WIRE_TAG = 'gh.dispatch';

export const dispatchWireType: WireType<EncodedDispatch> = {
  tag: DISPATCH_WIRE_TAG,
  is: (value): value is EncodedDispatch => value instanceof EncodedDispatch,
  toWire: (d) => [d.event, d.head.toString('utf8')],
  fromWire(data) {
    // From another process: only the shape the frame writer relies on (`{"op":0,...,"s":`) is let through.
    if (!Array.isArray(data) || data.length !== 2 || typeof data[0] !== 'string' || typeof data[1] !== 'string' || !data[1].startsWith('{"op":0,') || !data[1].endsWith('"s":')) {
      throw new TypeError('a dispatch on the wire is [event, head]');
    }
    const [event, head] = data as [string, string];
    return new EncodedDispatch(event, undefined, head);
  },
};

/** Registers the server's wire types (idempotent); every node does this before it joins. */
export function registerServerWireTypes(): void {
  registerWireType(dispatchWireType);
}
