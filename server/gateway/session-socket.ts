// What a session actor needs of the socket it writes to: Connection
// (connection.ts) is the one implementation. The session protocol names this
// interface rather than the class, so the messages between actors do not
// depend on the gateway's socket code (and no import cycle runs through them).
import type { EncodedDispatch } from './dispatch.js';

export interface SessionSocket {
  /**
   * Writes one dispatch with the session's sequence number spliced in; false when the socket is gone or over its buffer.
   * `last`: nothing else is queued for the session now, so the frame (and whatever is pending) leaves at once
   * instead of on the next tick.
   */
  sendDispatch(dispatch: EncodedDispatch, seq: number, last?: boolean): boolean;
  /** Closes with a gateway close code (server/errors.ts). */
  close(code: number, detail?: string): void;
}
