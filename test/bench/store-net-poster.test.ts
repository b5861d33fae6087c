import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { NetPoster, parseHead } from '../../bench/store-net-poster.js';
import { HistogramSet } from '../../client-sim/histograms.js';

describe('parseHead', () => {
  it('reads the status, Content-Length and Connection: close of an answer head', () => {
    expect(parseHead('HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 42\r\nConnection: keep-alive')).toEqual({ status: 200, contentLength: 42, close: false });
    expect(parseHead('HTTP/1.1 429 Too Many Requests\r\nContent-Length: 0\r\nConnection: close')).toEqual({ status: 429, contentLength: 0, close: true });
  });

  it('refuses what it cannot frame', () => {
    expect(parseHead('HTTP/1.1 200 OK\r\ntransfer-encoding: chunked')).toBeNull();
    expect(parseHead('SSH-2.0-OpenSSH')).toBeNull();
    expect(parseHead('HTTP/1.1 2x0 OK\r\ncontent-length: 1')).toBeNull();
  });
});

describe('NetPoster', () => {
  let server: http.Server | undefined;
  afterEach(() => new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve())));

  /** A real HTTP server; `answer` decides each reply from the request and its body. */
  async function serve(answer: (req: http.IncomingMessage, body: string, res: http.ServerResponse) => void): Promise<string> {
    server = http.createServer((req, res) => {
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (c: string) => (body += c));
      req.on('end', () => answer(req, body, res));
    });
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  it('posts the JSON body with the token, times 2xx answers and counts the others as errors, reusing one socket', async () => {
    const seen: Array<{ url: string; auth: string | undefined; body: string; socket: number }> = [];
    const sockets = new Map<unknown, number>();
    const url = await serve((req, body, res) => {
      if (!sockets.has(req.socket)) sockets.set(req.socket, sockets.size);
      seen.push({ url: req.url!, auth: req.headers.authorization, body, socket: sockets.get(req.socket)! });
      const payload = JSON.stringify({ id: '1', content: JSON.parse(body).content, pad: 'x'.repeat(100_000) });
      res.writeHead(body.includes('bad') ? 400 : 200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) });
      res.end(payload);
    });
    const histograms = new HistogramSet();
    const poster = new NetPoster(url, histograms);
    try {
      expect(await poster.post('123', 'tok', 'g1 m1')).toBe(true);
      expect(await poster.post('456', 'tok2', 'bad "quoted"')).toBe(false);
      expect(await poster.post('123', 'tok', 'g1 m2 é')).toBe(true);
      expect(seen).toEqual([
        { url: '/api/v10/channels/123/messages', auth: 'Bot tok', body: '{"content":"g1 m1"}', socket: 0 },
        { url: '/api/v10/channels/456/messages', auth: 'Bot tok2', body: '{"content":"bad \\"quoted\\""}', socket: 0 },
        { url: '/api/v10/channels/123/messages', auth: 'Bot tok', body: '{"content":"g1 m2 é"}', socket: 0 },
      ]);
      expect(histograms.get('rest').count).toBe(2);
      expect(poster.errors).toBe(1);
      expect(poster.sockets).toBe(1);
    } finally {
      poster.close();
    }
  });

  it('opens one socket per post in flight and fails a post whose answer it cannot frame', async () => {
    const url = await serve((_req, body, res) => {
      if (body.includes('chunked')) {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.write('{"a":');
        res.end('1}');
        return;
      }
      setTimeout(() => res.writeHead(200, { 'content-length': 2 }).end('{}'), 20);
    });
    const histograms = new HistogramSet();
    const poster = new NetPoster(url, histograms);
    try {
      const results = await Promise.all([1, 2, 3, 4].map((i) => poster.post('1', 't', `m${i}`)));
      expect(results).toEqual([true, true, true, true]);
      expect(poster.sockets).toBe(4);
      expect(await poster.post('1', 't', 'chunked')).toBe(false);
      expect(poster.errors).toBe(1);
      expect(poster.sockets).toBe(3);
      expect(await poster.post('1', 't', 'again')).toBe(true);
    } finally {
      poster.close();
    }
  });

  it('fails the post in flight when the server drops the socket, and carries on with a new one', async () => {
    let n = 0;
    const url = await serve((req, _body, res) => {
      if (n++ === 0) req.socket.destroy();
      else res.writeHead(200, { 'content-length': 2 }).end('{}');
    });
    const poster = new NetPoster(url, new HistogramSet());
    try {
      expect(await poster.post('1', 't', 'a')).toBe(false);
      expect(await poster.post('1', 't', 'b')).toBe(true);
      expect(poster.errors).toBe(1);
    } finally {
      poster.close();
    }
  });
});
