// bench:store's `--poster http` (the default until store-net-poster.ts):
// POST /channels/{id}/messages over node:http with
// kept-alive sockets, timed from the request's start to the last byte of the
// answer. client-sim's RestClient (fetch, a client span and an abort timer per
// request) cost the client more CPU per post than the server spent answering
// it, on the same two cores; a benchmark of the server's write path should
// spend as little as it can on the asking.
import http from 'node:http';
import type { HistogramSet } from '../client-sim/histograms.js';

export class Poster {
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: 1024 });
  private readonly host: string;
  private readonly port: number;
  errors = 0;

  constructor(
    baseUrl: string,
    private readonly histograms: HistogramSet,
  ) {
    const url = new URL(baseUrl);
    this.host = url.hostname;
    this.port = Number(url.port);
  }

  /** Posts `content` as the holder of `token`; resolves true when answered 2xx (its latency recorded in `rest`). */
  post(channelId: string, token: string, content: string): Promise<boolean> {
    const body = JSON.stringify({ content });
    const started = performance.now();
    return new Promise((resolve) => {
      const req = http.request(
        {
          agent: this.agent,
          host: this.host,
          port: this.port,
          method: 'POST',
          path: `/api/v10/channels/${channelId}/messages`,
          headers: { authorization: `Bot ${token}`, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
        },
        (res) => {
          res.on('data', () => {});
          res.on('end', () => {
            const ok = res.statusCode !== undefined && res.statusCode < 300;
            if (ok) this.histograms.record('rest', performance.now() - started);
            else this.errors++;
            resolve(ok);
          });
        },
      );
      req.on('error', () => {
        this.errors++;
        resolve(false);
      });
      req.end(body);
    });
  }

  close(): void {
    this.agent.destroy();
  }
}
