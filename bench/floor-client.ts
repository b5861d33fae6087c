// Clients for the floor servers (`floor`, `floor-seq`): N plain WebSocket
// connections that parse every frame (JSON) and match its nonce, as
// client-sim's sessions do, so both sides of the comparison pay the same client work.
import WebSocket from 'ws';
import { now } from '../client-sim/clock.js';
import { pacedUntil } from '../client-sim/pacing.js';
import { BroadcastClient } from './broadcast-client.js';

export class FloorClient extends BroadcastClient {
  private readonly sockets: WebSocket[] = [];
  protected readonly tag = 'f';

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
    return this.sockets.filter((s) => s.readyState === WebSocket.OPEN).length;
  }

  async connect(timeoutMs = 120_000): Promise<number> {
    const ws = this.url.replace(/^http/, 'ws') + '/gateway';
    let open = 0;
    await pacedUntil(
      this.size,
      this.connectRate,
      now() + timeoutMs,
      async (index) => {
        const socket = new WebSocket(ws, { perMessageDeflate: false });
        this.sockets.push(socket);
        socket.on('message', (data) => {
          const at = now();
          this.receive(index, (JSON.parse(String(data)) as { d?: { content?: string } }).d?.content, at);
        });
        socket.on('error', () => {});
        await new Promise<void>((resolve) => {
          socket.once('open', () => (open++, resolve()));
          socket.once('close', () => resolve());
        });
      },
      1_000_000,
    );
    return open;
  }

  async close(): Promise<void> {
    await Promise.all(
      this.sockets.map(
        (s) =>
          new Promise<void>((resolve) => {
            if (s.readyState === WebSocket.CLOSED) return resolve();
            const t = setTimeout(() => (s.terminate(), resolve()), 1_000);
            s.once('close', () => (clearTimeout(t), resolve()));
            s.close(1000);
          }),
      ),
    );
  }
}
