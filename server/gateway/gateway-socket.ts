// The WebSocket class the gateway's ws server makes its sockets with. ws
// answers a message over its maxPayload by closing with 1009 itself, before
// our code hears of it (it calls close() and only then emits 'error'); Discord
// answers an oversized payload with 4002 Decode error, so the close is mapped
// here. (Invalid UTF-8, ws's other self-made close, 1007, never happens: the
// server skips ws's check and the decoder answers 4002.)
// https://discord.com/developers/docs/topics/opcodes-and-status-codes#gateway-gateway-close-event-codes
import WebSocket from 'ws';
import { GatewayCloseCode } from '../errors.js';
import { closeReason } from './protocol.js';

/** RFC 6455's "message too big", which ws sends for a message over maxPayload. */
const MESSAGE_TOO_BIG = 1009;

/**
 * The one party that hears a gateway socket: called directly, in place of a
 * listener (a closure, and an entry in the socket's listener table) per event
 * per socket, which every idle connection would keep for its whole life.
 */
export interface GatewaySocketOwner {
  onMessage(data: Buffer, isBinary: boolean): void;
  onClose(code: number): void;
  onError(err: Error & { code?: string }): void;
  /** Runs before any close frame leaves, so what the connection queued goes first. */
  beforeClose(): void;
}

export class GatewaySocket extends WebSocket {
  /** Receives 'message', 'close' and 'error' once set (they are not emitted to listeners then). */
  owner: GatewaySocketOwner | undefined;

  override emit(event: string | symbol, ...args: unknown[]): boolean {
    const owner = this.owner;
    if (owner !== undefined) {
      switch (event) {
        case 'message':
          owner.onMessage(args[0] as Buffer, args[1] as boolean);
          return true;
        case 'close':
          owner.onClose(args[0] as number);
          return true;
        case 'error':
          owner.onError(args[0] as Error);
          return true;
      }
    }
    return super.emit(event, ...args);
  }

  override close(code?: number, data?: string | Buffer): void {
    this.owner?.beforeClose();
    // ws's receiver closes with the bare code; the echo of a client's own close (which may be
    // 1009 too) comes with its reason and is left as it is.
    if (code === MESSAGE_TOO_BIG && data === undefined) super.close(GatewayCloseCode.DECODE_ERROR, closeReason(GatewayCloseCode.DECODE_ERROR, 'payload too large'));
    else super.close(code, data);
  }
}

/** ws's error code for a message over maxPayload (the socket is already closing with 4002 when it is emitted). */
export const WS_ERR_MESSAGE_TOO_BIG = 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH';
