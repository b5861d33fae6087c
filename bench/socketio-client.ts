// Clients for the Socket.IO server: N socket.io-client sockets, websocket
// transport only, each its own connection (forceNew: no multiplexing), that
// receive every MESSAGE_CREATE event (socket.io-client decodes the packet and
// parses its JSON, as an application's client would) and match its nonce.
// No reconnection: a dropped socket's deliveries count as lost.
import { type Socket, io } from 'socket.io-client';
import { now } from '../client-sim/clock.js';
import { pacedUntil } from '../client-sim/pacing.js';
import { BroadcastClient } from './broadcast-client.js';

export class SocketIoClient extends BroadcastClient {
  private readonly sockets: Socket[] = [];
  protected readonly tag = 's';

  constructor(
    url: string,
    private readonly size: number,
    private readonly connectRate: number,
  ) {
    super(url);
  }

  protected get socketCount(): number {
    return this.sockets.length;
  }

  protected get openCount(): number {
    return this.sockets.filter((s) => s.connected).length;
  }

  /** Resolves once every socket is connected (the server joins it to the guild's room before it says so) or failed. */
  async connect(timeoutMs = 120_000): Promise<number> {
    let open = 0;
    await pacedUntil(
      this.size,
      this.connectRate,
      now() + timeoutMs,
      async (index) => {
        const socket = io(this.url, { transports: ['websocket'], forceNew: true, reconnection: false, timeout: 30_000 });
        this.sockets.push(socket);
        socket.on('MESSAGE_CREATE', (d: { content?: unknown } | undefined) => this.receive(index, d?.content, now()));
        await new Promise<void>((resolve) => {
          socket.once('connect', () => (open++, resolve()));
          socket.once('connect_error', () => resolve());
        });
      },
      1_000_000,
    );
    return open;
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.disconnect();
  }
}
