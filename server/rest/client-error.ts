// Errors Node's HTTP parser raises before there is a request to route:
// headers past the size limit (431), a request that did not arrive in time
// (408), bytes that are not HTTP (400). Fastify answers these with a body of
// its own; Discord clients parse Discord's error body, so that is what goes out
// here, written straight to the socket (there is no reply object yet).
// https://discord.com/developers/docs/topics/opcodes-and-status-codes#json
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';

function statusOf(code: string | undefined): number {
  if (code === 'HPE_HEADER_OVERFLOW') return 431;
  if (code === 'ERR_HTTP_REQUEST_TIMEOUT') return 408;
  return 400;
}

/** The raw response for a parser error: Discord's `{code, message}` body, then the connection ends. */
export function clientErrorResponse(err: Error & { code?: string }): string {
  const status = statusOf(err.code);
  const text = STATUS_CODES[status] ?? 'Bad Request';
  const body = JSON.stringify({ code: 0, message: `${status}: ${text}` });
  return `HTTP/1.1 ${status} ${text}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`;
}

/** Fastify's `clientErrorHandler`: the same contract as Node's 'clientError' event. */
export function handleClientError(err: Error & { code?: string }, socket: Socket): void {
  // A reset connection has no one left to answer.
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  if (socket.writable) socket.end(clientErrorResponse(err));
  socket.destroySoon();
}
