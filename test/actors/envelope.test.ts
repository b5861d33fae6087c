import { describe, expect, it } from 'vitest';
import type * as EnvelopeModule from '../../actors/envelope.js';
import { Envelope, isEnvelope, unwrap } from '../../actors/index.js';

describe('Envelope: recognised on every send and receive', () => {
  it('tells envelopes from every other kind of message', () => {
    const carrier = { traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' };
    expect(isEnvelope(new Envelope('m'))).toBe(true);
    expect(isEnvelope(new Envelope({ type: 'MESSAGE_CREATE' }, carrier, { fanoutSize: 3 }))).toBe(true);
    const others: unknown[] = [
      undefined,
      null,
      0,
      42,
      'text',
      true,
      Symbol('s'),
      () => {},
      [],
      {},
      Object.create(null),
      { message: 'm', carrier }, // the shape alone is not an envelope
      { type: 'MESSAGE_CREATE', d: {} },
    ];
    for (const m of others) expect(isEnvelope(m), String(typeof m)).toBe(false);
  });

  it('answers the same object the same way when asked again (a broadcast checks one message per recipient), whatever came between', () => {
    const bare = { type: 'dispatch' };
    const other = { type: 'dispatch' };
    const env = new Envelope(bare);
    const seen = [bare, bare, env, bare, env, env, other, bare, undefined, env, other].map((m) => isEnvelope(m));
    expect(seen).toEqual([false, false, true, false, true, true, false, false, false, true, false]);
  });

  it('unwrap returns the message inside an envelope and anything else as is', () => {
    const msg = { type: 'x' };
    expect(unwrap(new Envelope(msg))).toBe(msg);
    expect(unwrap(msg)).toBe(msg);
    expect(unwrap(7)).toBe(7);
    expect(unwrap(null)).toBe(null);
  });

  it('reads envelopes made by another copy of the module (two installs in one process)', async () => {
    // A query string makes the module loader evaluate the file a second time:
    // a separate Envelope class, as a second installed copy would have.
    const specifier = '../../actors/envelope.js?copy=2';
    const copy = (await import(specifier)) as typeof EnvelopeModule;
    expect(copy.Envelope).not.toBe(Envelope);
    const theirs = new copy.Envelope('from the other copy');
    expect(isEnvelope(theirs)).toBe(true);
    expect(unwrap(theirs)).toBe('from the other copy');
    expect(copy.isEnvelope(new Envelope('ours'))).toBe(true);
  });
});
