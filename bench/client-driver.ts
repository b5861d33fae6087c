// The benchmark's client process: one per server under test, driven by the
// benchmark over IPC so that the server's CPU can be read right before and
// right after each burst. Guildhall servers get client-sim's broadcast
// driver (world through REST, sessions over the gateway, full accounting);
// the floor servers get FloorClient, the Socket.IO server SocketIoClient.
//   forked by bench/server.bench.ts; not meant to be run by hand.
import { BroadcastDriver, type BurstOptions } from '../client-sim/broadcast-driver.js';
import { FloorClient } from './floor-client.js';
import { SocketIoClient } from './socketio-client.js';

export type DriverCommand =
  | { cmd: 'setup'; kind: 'guildhall' | 'floor' | 'socketio'; /** One URL, or the nodes of a cluster comma-separated. */ url: string; sessions: number; users: number; workers: number; connectRate: number; seed: number }
  | { cmd: 'connect' }
  | { cmd: 'burst'; messages: number; rate: number; unsampled?: boolean; timeoutMs?: number; maxInFlight?: number }
  | { cmd: 'close' };

interface Driver {
  connect(): Promise<number>;
  burst(messages: number, rate: number, options?: BurstOptions): ReturnType<BroadcastDriver['burst']>;
  close(): Promise<void>;
}

if (!process.send) throw new Error('bench/client-driver.ts runs as a forked child of the benchmark');
const reply = (msg: object) => process.send!(msg);
let driver: Driver | undefined;

process.on('message', (msg: DriverCommand) => {
  handle(msg).then(reply, (err: unknown) => reply({ ev: 'error', error: String((err as Error)?.stack ?? err) }));
});
process.on('disconnect', () => process.exit(0));

async function handle(msg: DriverCommand): Promise<object> {
  switch (msg.cmd) {
    case 'setup':
      driver =
        msg.kind === 'floor'
          ? new FloorClient(msg.url, msg.sessions, msg.connectRate)
          : msg.kind === 'socketio'
            ? new SocketIoClient(msg.url, msg.sessions, msg.connectRate)
            : await BroadcastDriver.setup({ urls: msg.url.split(','), sessions: msg.sessions, users: msg.users, workers: msg.workers, connectRate: msg.connectRate, seed: msg.seed, env: {} });
      return { ev: 'setup-done' };
    case 'connect':
      return { ev: 'connected', connected: await driver!.connect() };
    case 'burst':
      return { ev: 'burst-done', result: await driver!.burst(msg.messages, msg.rate, { unsampled: msg.unsampled, timeoutMs: msg.timeoutMs, maxInFlight: msg.maxInFlight }) };
    case 'close':
      await driver?.close();
      setTimeout(() => process.exit(0), 100);
      return { ev: 'closed' };
  }
}
