// A dispatch encoded once, for every recipient. The JSON is built so that the
// sequence number comes last: `{"op":0,"t":"MESSAGE_CREATE","d":{...},"s":` + seq + `}`.
// Each session writes the shared head, its own seq digits and the shared tail,
// so a broadcast to N sessions serialises the payload once and copies it never
// (as Phoenix's fastlane writes one encoding to every socket).
import { encodeJson } from '../json-text.js';
import { intentForEvent } from './protocol.js';

export class EncodedDispatch {
  /** Bytes up to and including `"s":`. */
  readonly head: Buffer;
  /** The intent a session needs to receive it (undefined: always sent). */
  readonly intent: number | undefined;

  constructor(
    readonly event: string,
    data: unknown,
    /** The head as already encoded (a dispatch that crossed from another node); `data` is then unused. */
    head?: string,
  ) {
    // `data` may come encoded already (a JsonText: guild/guild-actor.ts encodes a new message once).
    const text = head ?? `{"op":0,"t":${JSON.stringify(event)},"d":${encodeJson(data)},"s":`;
    // Memory of its own, exactly its size, not a slice of Node's shared 8 KiB
    // pool (Buffer.from): replay buffers keep each session's READY and
    // GUILD_CREATE as long as the session lives, and a pooled slice would keep
    // its whole slab alive, with whatever else was cut from it.
    this.head = Buffer.allocUnsafeSlow(Buffer.byteLength(text));
    this.head.write(text);
    this.intent = intentForEvent(event);
  }

  /** The payload one session receives (the frame writer builds it in place; this is for inspection). */
  bytesFor(seq: number): Buffer {
    return Buffer.concat([this.head, Buffer.from(`${seq}}`, 'latin1')]);
  }
}

/** A non-dispatch gateway payload (HELLO, HEARTBEAT_ACK, RECONNECT, INVALID_SESSION). */
export function encodeOp(op: number, d: unknown): Buffer {
  return Buffer.from(JSON.stringify({ op, d, s: null, t: null }));
}
