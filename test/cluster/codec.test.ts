// The one codec for what crosses a process: plain data and refs only.
import { describe, expect, it } from 'vitest';
import { ActorSystem, isActorError, ActorErrorCode } from '../../actors/index.js';
import { codecStats, decodeValue, encodeValue, registerWireType, type WireType } from '../../cluster/codec.js';

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

  it('refuses a plain object using the type key', () => {
    let error: unknown;
    try {
      encodeValue({ inner: { $t: ['x', 1] } });
    } catch (err) {
      error = err;
    }
    expect(isActorError(error, ActorErrorCode.NOT_SERIALISABLE)).toBe(true);
  });
});

// A server-like class that must cross: the event name plus data already made
// (in the server, EncodedDispatch carries the dispatch once for every node).
class Dispatch {
  constructor(
    readonly event: string,
    readonly data: unknown,
  ) {}
}
const dispatchType: WireType<Dispatch> = {
  tag: 'test-dispatch',
  is: (v): v is Dispatch => v instanceof Dispatch,
  toWire: (v) => ({ event: v.event, data: v.data }),
  fromWire: (d) => {
    const { event, data } = d as { event: string; data: unknown };
    return new Dispatch(event, data);
  },
};

describe('codec wire types', () => {
  const here = new ActorSystem({ node: 'here' });
  const there = new ActorSystem({ node: 'there' });
  const refFor = (a: Parameters<typeof there.refFor>[0]) => there.refFor(a);
  registerWireType(dispatchType);

  it('writes a registered instance as {"$t":[tag, data]} and revives it, at the top level and nested', () => {
    const ref = here.spawn({ kind: 'k', init: () => null }, { key: 'w' });
    const d = new Dispatch('MESSAGE_CREATE', { id: '1', content: 'hi $t', to: ref });
    const text = encodeValue(d);
    expect(JSON.parse(text)).toEqual({ $t: ['test-dispatch', { event: 'MESSAGE_CREATE', data: { id: '1', content: 'hi $t', to: { $ref: ['here', 'w', 'k'] } } }] });

    const back = decodeValue(text, refFor) as Dispatch;
    expect(back).toBeInstanceOf(Dispatch);
    expect(back.event).toBe('MESSAGE_CREATE');
    const data = back.data as { id: string; content: string; to: { address: unknown } };
    expect(data.content).toBe('hi $t');
    // The data's refs arrive as refs of the receiving system.
    expect(data.to.address).toEqual({ node: 'here', id: 'w', kind: 'k' });

    const nested = decodeValue(encodeValue({ list: [d, { again: d }], n: 1 }), refFor) as { list: [Dispatch, { again: Dispatch }]; n: number };
    expect(nested.list[0]).toBeInstanceOf(Dispatch);
    expect(nested.list[1].again).toBeInstanceOf(Dispatch);
    expect(nested.n).toBe(1);
  });

  it('still refuses unregistered classes, and what a wire type gives that is not plain data', () => {
    class Other {}
    expect(() => encodeValue({ o: new Other() })).toThrow(expect.objectContaining({ code: ActorErrorCode.NOT_SERIALISABLE }));
    expect(() => encodeValue(new Dispatch('X', new Map()))).toThrow(expect.objectContaining({ code: ActorErrorCode.NOT_SERIALISABLE }));
  });

  it('refuses an unknown or malformed type tag on decode with ACTOR_ERR_NOT_SERIALISABLE, and counts it', () => {
    for (const text of ['{"$t":["not-registered",{}]}', '{"m":[1,{"$t":5}]}', '{"$t":["test-dispatch"]}']) {
      const before = codecStats.unknownWireTypes;
      let error: unknown;
      try {
        decodeValue(text, refFor);
      } catch (err) {
        error = err;
      }
      expect(isActorError(error, ActorErrorCode.NOT_SERIALISABLE)).toBe(true);
      expect(codecStats.unknownWireTypes).toBe(before + 1);
    }
  });

  it('leaves text that only mentions the keys alone', () => {
    expect(decodeValue('{"content":"costs $5, see $ref and $t","k":"$t"}', refFor)).toEqual({ content: 'costs $5, see $ref and $t', k: '$t' });
  });

  it('registers a type once; another type under a taken tag throws', () => {
    expect(() => registerWireType(dispatchType)).not.toThrow();
    expect(() => registerWireType({ ...dispatchType })).toThrow(/already registered/);
  });
});
