// A minimal gateway client for tests, on ws: collects every payload and the
// close code, and answers nothing by itself (tests drive heartbeats).
import type { Socket } from 'node:net';
import WebSocket from 'ws';

export interface Payload {
  op: number;
  d: any; // eslint-disable-line @typescript-eslint/no-explicit-any
  s: number | null;
  t: string | null;
}

export class GatewayClient {
  readonly received: Payload[] = [];
  closeCode: number | undefined;
  closeReason = '';
  /** The TCP socket under the WebSocket (to pause reading in slow-consumer tests). */
  socket: Socket | undefined;
  private readonly closed: Promise<number>;
  private waiters: Array<() => void> = [];

  private constructor(readonly ws: WebSocket) {
    ws.on('upgrade', (res) => (this.socket = res.socket as Socket));
    ws.on('message', (data) => {
      this.received.push(JSON.parse(String(data)) as Payload);
      this.wake();
    });
    this.closed = new Promise((resolve) =>
      ws.on('close', (code, reason) => {
        this.closeCode = code;
        this.closeReason = String(reason);
        this.wake();
        resolve(code);
      }),
    );
    ws.on('error', () => {});
  }

  static async connect(baseUrl: string, query = '?v=10&encoding=json'): Promise<GatewayClient> {
    const ws = new WebSocket(baseUrl.replace(/^http/, 'ws') + '/gateway' + query);
    const client = new GatewayClient(ws);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
      ws.once('close', () => resolve());
    });
    return client;
  }

  send(op: number, d: unknown): void {
    this.ws.send(JSON.stringify({ op, d }));
  }

  sendRaw(text: string): void {
    this.ws.send(text);
  }

  identify(token: string, intents = 0b1111111111111111, extra: Record<string, unknown> = {}): void {
    this.send(2, { token, intents, properties: { os: 'linux', browser: 'test', device: 'test' }, ...extra });
  }

  dispatches(event?: string): Payload[] {
    return this.received.filter((p) => p.op === 0 && (event === undefined || p.t === event));
  }

  /** Resolves when `predicate` holds for what was received (or rejects on close / timeout). */
  async waitFor<T>(predicate: (received: Payload[]) => T | undefined | false, timeoutMs = 5_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = predicate(this.received);
      if (value) return value;
      if (this.closeCode !== undefined) throw new Error(`gateway closed (${this.closeCode} ${this.closeReason}) while waiting`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting; received ops ${this.received.map((p) => p.t ?? p.op).join(',')}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  waitForDispatch(event: string, count = 1, timeoutMs?: number): Promise<Payload[]> {
    return this.waitFor((r) => {
      const found = r.filter((p) => p.op === 0 && p.t === event);
      return found.length >= count ? found : undefined;
    }, timeoutMs);
  }

  /** Resolves with the close code the server sent. */
  async waitForClose(timeoutMs = 5_000): Promise<number> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error('no close within timeout')), timeoutMs);
    });
    try {
      return await Promise.race([this.closed, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  close(code = 1000): void {
    this.ws.close(code);
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }
}
