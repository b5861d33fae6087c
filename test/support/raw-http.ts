// A raw TCP client for what fetch will not send: bodies shorter than their
// Content-Length, headers past the parser's limit, bytes trickled slowly.
import { type Socket, connect } from 'node:net';

export interface RawExchange {
  socket: Socket;
  /** Everything the server sent so far. */
  received(): string;
  /** Resolves with the text received when the server closes (or ends) the connection. */
  closed: Promise<string>;
  /** Resolves once the response's status line has arrived (with its status). */
  status: Promise<number>;
}

/** Opens a connection to `base` (http://host:port) and writes `head` (and `body`, when given) as is. */
export function rawRequest(base: string, head: string, body = ''): RawExchange {
  const { hostname, port } = new URL(base);
  const socket = connect({ host: hostname, port: Number(port) });
  let text = '';
  let onStatus: (s: number) => void = () => {};
  const status = new Promise<number>((resolve) => (onStatus = resolve));
  socket.setEncoding('latin1');
  socket.on('data', (d: string) => {
    text += d;
    const m = /^HTTP\/1\.1 (\d{3})/.exec(text);
    if (m) onStatus(Number(m[1]));
  });
  const closed = new Promise<string>((resolve) => {
    socket.on('end', () => resolve(text));
    socket.on('close', () => resolve(text));
    socket.on('error', () => resolve(text));
  });
  socket.write(head + body);
  return { socket, received: () => text, closed, status };
}

/** Rejects when `promise` has not settled within `ms`, saying what was awaited. */
export function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: nothing within ${ms} ms`)), ms)));
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
