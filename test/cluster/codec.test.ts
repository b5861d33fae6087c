// The one codec for what crosses a process: plain data and refs only.
import { describe, expect, it } from 'vitest';
import { ActorSystem, isActorError, ActorErrorCode } from '../../actors/index.js';
import { decodeValue, encodeValue } from '../../cluster/codec.js';

describe('codec', () => {
  const here = new ActorSystem({ node: 'here' });
  const there = new ActorSystem({ node: 'there' });

  it('round-trips plain data, and refs as addresses that come back as refs of the receiving system', () => {
    const ref = here.spawn({ kind: 'k', init: () => null }, { key: 'x' });
    const value = { s: 'é', n: -1.5, b: false, nil: null, list: [1, [2, { deep: 'yes' }]], ref, skipped: undefined };
    const text = encodeValue(value);
    const back = decodeValue(text, (a) => there.refFor(a)) as typeof value;
    expect(back).toEqual({ s: 'é', n: -1.5, b: false, nil: null, list: [1, [2, { deep: 'yes' }]], ref: expect.anything() });
    expect(back.ref.address).toEqual({ node: 'here', id: 'x', kind: 'k' });
    expect(back.ref).not.toBe(ref);
    expect(decodeValue(encodeValue('top'), (a) => there.refFor(a))).toBe('top');
    expect(decodeValue(encodeValue(undefined), (a) => there.refFor(a))).toBe(null);
  });

  it.each([
    ['a Map', { m: new Map() }],
    ['a Date', { when: new Date(0) }],
    ['a Buffer', [Buffer.from('x')]],
    ['a class instance', { x: new (class Thing {})() }],
    ['a function', { f: () => 1 }],
    ['a bigint', { n: 1n }],
    ['NaN', { n: Number.NaN }],
    ['Infinity', [Number.POSITIVE_INFINITY]],
    ['an object using the ref key', { inner: { $ref: ['a', 'b', 'c'] } }],
  ])('refuses %s with ACTOR_ERR_NOT_SERIALISABLE', (_name, value) => {
    let error: unknown;
    try {
      encodeValue(value);
    } catch (err) {
      error = err;
    }
    expect(isActorError(error, ActorErrorCode.NOT_SERIALISABLE)).toBe(true);
  });
});
