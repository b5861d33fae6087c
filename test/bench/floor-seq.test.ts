import { describe, expect, it } from 'vitest';
import { SeqState, dispatchHead, seqFrame } from '../../bench/floor-seq.js';

/** Decodes one unmasked server frame (RFC 6455 §5.2): FIN, opcode, payload. */
function decode(frame: Buffer): { fin: boolean; opcode: number; payload: string } {
  const fin = (frame[0]! & 0x80) !== 0;
  const opcode = frame[0]! & 0x0f;
  expect(frame[1]! & 0x80).toBe(0); // a server's frames are not masked
  let length = frame[1]! & 0x7f;
  let offset = 2;
  if (length === 126) {
    length = frame.readUInt16BE(2);
    offset = 4;
  } else if (length === 127) {
    length = Number(frame.readBigUInt64BE(2));
    offset = 10;
  }
  expect(frame.length).toBe(offset + length);
  return { fin, opcode, payload: frame.subarray(offset).toString('utf8') };
}

describe('seqFrame', () => {
  it('splices the seq into the shared head: a whole text frame whose JSON carries s', () => {
    const head = dispatchHead('MESSAGE_CREATE', { content: 'sim:k1 hello', n: 1 });
    for (const seq of [1, 9, 10, 999, 1000, 123_456_789]) {
      const { fin, opcode, payload } = decode(seqFrame(head, seq));
      expect(fin).toBe(true);
      expect(opcode).toBe(1);
      expect(JSON.parse(payload)).toEqual({ op: 0, t: 'MESSAGE_CREATE', d: { content: 'sim:k1 hello', n: 1 }, s: seq });
    }
  });

  it('uses the 7-bit, 16-bit and 64-bit lengths at their boundaries', () => {
    // {"op":0,"t":"E","d":"<x>","s": is 27 bytes plus x; "1}" adds 2.
    const headOf = (payloadLength: number) => dispatchHead('E', 'x'.repeat(payloadLength - 29));
    expect(decode(seqFrame(headOf(125), 1)).payload.length).toBe(125);
    expect(seqFrame(headOf(125), 1)[1]).toBe(125);
    expect(seqFrame(headOf(126), 1)[1]).toBe(126);
    expect(decode(seqFrame(headOf(126), 1)).payload.length).toBe(126);
    expect(seqFrame(headOf(65_535), 1)[1]).toBe(126);
    expect(seqFrame(headOf(65_536), 1)[1]).toBe(127);
    expect(JSON.parse(decode(seqFrame(headOf(65_536), 1)).payload).s).toBe(1);
  });
});

describe('SeqState', () => {
  it('numbers frames from 1 and keeps references to the shared heads, not copies', () => {
    const state = new SeqState(1000);
    const heads = Array.from({ length: 40 }, (_, i) => dispatchHead('E', i));
    heads.forEach((h, i) => expect(JSON.parse(decode(state.next(h)).payload).s).toBe(i + 1));
    expect(state.seq).toBe(40);
    // Past the initial 16 slots the ring has grown and still holds every one, in place.
    for (let s = 1; s <= 40; s++) expect(state.held(s)).toBe(heads[s - 1]);
    expect(state.held(0)).toBeUndefined();
    expect(state.held(41)).toBeUndefined();
  });

  it('keeps only the last `capacity` once full, the oldest going first', () => {
    const state = new SeqState(20);
    const heads = Array.from({ length: 50 }, (_, i) => dispatchHead('E', i));
    for (const h of heads) state.next(h);
    for (let s = 1; s <= 30; s++) expect(state.held(s)).toBeUndefined();
    for (let s = 31; s <= 50; s++) expect(state.held(s)).toBe(heads[s - 1]);
  });

  it('with capacity 0 still numbers frames and holds nothing', () => {
    const state = new SeqState(0);
    const head = dispatchHead('E', 1);
    expect(JSON.parse(decode(state.next(head)).payload).s).toBe(1);
    expect(JSON.parse(decode(state.next(head)).payload).s).toBe(2);
    expect(state.held(2)).toBeUndefined();
  });
});
