// The fastlane: one encoding per broadcast, per-session seq spliced in, frames
// written straight to the socket and read back by a real WebSocket client.
import http from 'node:http';
import { type Duplex, PassThrough } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import { EncodedDispatch } from '../../../server/gateway/dispatch.js';
import { FrameWriter, textFrameHeader } from '../../../server/gateway/frame-writer.js';

const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

/** A server whose first upgraded socket is handed to the test, and a ws client collecting messages. */
async function pair(): Promise<{ socket: Duplex; messages: string[]; client: WebSocket }> {
  const server = http.createServer();
  const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false });
  let resolveSocket!: (s: Duplex) => void;
  const gotSocket = new Promise<Duplex>((r) => (resolveSocket = r));
  server.on('upgrade', (req, socket, head) => wss.handleUpgrade(req, socket, head, () => resolveSocket(socket)));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  const client = new WebSocket(`ws://127.0.0.1:${port}/`);
  const messages: string[] = [];
  client.on('message', (d) => messages.push(String(d)));
  const socket = await gotSocket;
  await new Promise((r) => client.once('open', r));
  cleanups.push(() => {
    client.terminate();
    server.close();
  });
  return { socket, messages, client };
}

async function until(cond: () => boolean, timeoutMs = 2_500): Promise<void> {
  for (const deadline = Date.now() + timeoutMs; !cond() && Date.now() < deadline; ) await new Promise((r) => setTimeout(r, 5));
}

describe('EncodedDispatch', () => {
  it('encodes once and splices each session seq into valid JSON', () => {
    const d = new EncodedDispatch('MESSAGE_CREATE', { content: 'hi "there"', id: '1' });
    for (const seq of [1, 42, 123456]) {
      const json = JSON.parse(d.bytesFor(seq).toString());
      expect(json).toEqual({ op: 0, t: 'MESSAGE_CREATE', d: { content: 'hi "there"', id: '1' }, s: seq });
    }
    // The shared part is encoded once.
    expect(d.bytesFor(1).subarray(0, d.head.length).equals(d.head)).toBe(true);
    expect(d.intent).toBe(1 << 9);
  });
});

describe('FrameWriter', () => {
  it('frame headers use the 7-bit, 16-bit and 64-bit length forms (RFC 6455 5.2)', () => {
    expect([...textFrameHeader(125)]).toEqual([0x81, 125]);
    expect([...textFrameHeader(126)]).toEqual([0x81, 126, 0, 126]);
    expect([...textFrameHeader(65_535)]).toEqual([0x81, 126, 0xff, 0xff]);
    expect([...textFrameHeader(65_536)]).toEqual([0x81, 127, 0, 0, 0, 0, 0, 1, 0, 0]);
  });

  it('a real ws client reads what it writes, at every length form, and a burst leaves in one flush', async () => {
    const { socket, messages } = await pair();
    const writer = new FrameWriter(socket);
    const bodies = ['x'.repeat(10), 'y'.repeat(500), 'z'.repeat(70_000)];
    const d = new EncodedDispatch('TYPING_START', { n: 1 });
    for (const b of bodies) writer.writeText([Buffer.from(b)]);
    expect(writer.writeDispatch(d.head, 7)).toBe(d.bytesFor(7).length);
    const big = new EncodedDispatch('MESSAGE_CREATE', { content: 'q'.repeat(20_000) });
    writer.writeDispatch(big.head, 8); // gathered, not copied
    expect(writer.frames).toBe(5);
    await until(() => messages.length === 5);
    expect(messages.slice(0, 3)).toEqual(bodies);
    expect(JSON.parse(messages[3]!)).toMatchObject({ t: 'TYPING_START', s: 7 });
    expect(JSON.parse(messages[4]!)).toMatchObject({ t: 'MESSAGE_CREATE', s: 8, d: { content: 'q'.repeat(20_000) } });
    expect(writer.flushes).toBe(1);
  });

  it('many dispatches in one flush: every header form and seq width, each frame as sent', async () => {
    const { socket, messages } = await pair();
    const writer = new FrameWriter(socket);
    // Payload lengths around the 125/126 header boundary, seqs of 1 to 7 digits.
    const sent: { content: string; seq: number }[] = [];
    const seqs = [1, 9, 10, 99, 100, 999, 1000, 65_535, 123_456, 9_999_999];
    for (let n = 60; n < 90; n++) {
      const seq = seqs[n % seqs.length]!;
      const content = 'c'.repeat(n);
      const d = new EncodedDispatch('TYPING_START', { content });
      expect(writer.writeDispatch(d.head, seq)).toBe(d.bytesFor(seq).length);
      sent.push({ content, seq });
    }
    writer.writeText([Buffer.from('plain')]);
    await until(() => messages.length === sent.length + 1);
    expect(writer.flushes).toBe(1);
    expect(messages.slice(0, -1).map((m) => JSON.parse(m) as { d: { content: string }; s: number }).map((m) => ({ content: m.d.content, seq: m.s }))).toEqual(sent);
    expect(messages.at(-1)).toBe('plain');
  });

  it('a dispatch written now leaves at once, with whatever was pending, in one write', async () => {
    const { socket, messages } = await pair();
    const writer = new FrameWriter(socket);
    const d = new EncodedDispatch('TYPING_START', { n: 1 });
    // Nothing pending: written before this returns.
    expect(writer.writeDispatch(d.head, 1, true)).toBe(d.bytesFor(1).length);
    expect(writer.flushes).toBe(1);
    expect(writer.bufferedBytes).toBe(socket.writableLength);
    // Two queued, then one written now: the three leave in one more write, in order.
    writer.writeDispatch(d.head, 2);
    writer.writeText([Buffer.from('between')]);
    writer.writeDispatch(d.head, 3, true);
    expect(writer.flushes).toBe(2);
    await until(() => messages.length === 4);
    expect(messages.map((m) => (m.startsWith('{') ? (JSON.parse(m) as { s: number }).s : m))).toEqual([1, 2, 'between', 3]);
    // The tick's flush finds nothing left to write.
    await new Promise((r) => setImmediate(r));
    expect(writer.flushes).toBe(2);
  });

  it('refuses to write to a destroyed socket', async () => {
    const { socket } = await pair();
    const writer = new FrameWriter(socket);
    socket.destroy();
    expect(writer.writeText([Buffer.from('late')])).toBe(false);
    expect(writer.writeDispatch(Buffer.from('{"op":0,"s":'), 1, true)).toBe(0);
  });

  it('refuses to write to a socket whose writing side has ended, and writes nothing', async () => {
    const { socket } = await pair();
    const writer = new FrameWriter(socket);
    socket.end();
    expect(writer.writable).toBe(false);
    expect(writer.writeDispatch(Buffer.from('{"op":0,"s":'), 1, true)).toBe(0);
    expect(writer.frames).toBe(0);
  });

  it('a client that stops reading: frames written while its socket is backed up arrive intact and in order', async () => {
    const { socket, messages, client } = await pair();
    const writer = new FrameWriter(socket);
    const other = await pair();
    const otherWriter = new FrameWriter(other.socket);
    client.pause();
    // 16 MB, past what the kernel buffers on loopback: writes go from taken at once to queued in the socket.
    const frames = 8_000;
    const content = (i: number) => `${i}:`.padEnd(2_000, String.fromCharCode(97 + (i % 26)));
    let backedUp = 0;
    for (let i = 1; i <= frames; i++) {
      const d = new EncodedDispatch('TYPING_START', { content: content(i) });
      // Alternate writes now and queued flushes; another socket's writes come between them.
      writer.writeDispatch(d.head, i, i % 3 !== 0);
      if (i % 3 === 0) writer.flushNow();
      otherWriter.writeDispatch(d.head, i, true);
      if (socket.writableLength > 0) backedUp++;
    }
    expect(backedUp).toBeGreaterThan(0);
    client.resume();
    // 32 MB to read and parse: generous, for a loaded machine.
    await until(() => messages.length === frames && other.messages.length === frames, 45_000);
    // An upgraded HTTP socket is a plain TCP socket: its writes came from the scratch buffer until it backed up.
    expect(writer.fromScratch).toBeGreaterThan(0);
    expect(writer.fromScratch).toBeLessThan(writer.flushes);
    for (const received of [messages, other.messages]) {
      expect(received).toHaveLength(frames);
      received.forEach((m, i) => {
        const parsed = JSON.parse(m) as { d: { content: string }; s: number };
        expect(parsed.s).toBe(i + 1);
        expect(parsed.d.content).toBe(content(i + 1));
      });
    }
  }, 60_000);

  it('a Duplex other than a TCP socket gets bytes of its own: one that keeps chunks still has each frame as written', () => {
    // A PassThrough calls back at once and keeps the chunk in its readable side: the scratch would be overwritten.
    const stream = new PassThrough();
    const writer = new FrameWriter(stream);
    const d = new EncodedDispatch('TYPING_START', { n: 1 });
    for (let seq = 1; seq <= 3; seq++) writer.writeDispatch(d.head, seq, true);
    expect(writer.fromScratch).toBe(0);
    const chunks: Buffer[] = [];
    for (let c = stream.read() as Buffer | null; c !== null; c = stream.read() as Buffer | null) chunks.push(c);
    const bytes = Buffer.concat(chunks);
    const frame = (seq: number) => Buffer.concat([textFrameHeader(d.bytesFor(seq).length), d.bytesFor(seq)]);
    expect(bytes.equals(Buffer.concat([frame(1), frame(2), frame(3)]))).toBe(true);
  });
});
