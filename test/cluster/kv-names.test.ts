// Names in JetStream KV: ids of any shape become valid keys and come back.
import { describe, expect, it } from 'vitest';
import { bucketName, decodeKey, encodeKey } from '../../cluster/kv-names.js';

// https://docs.nats.io/nats-concepts/jetstream/key-value-store#notes
const KV_KEY = /^[-/_=.A-Za-z0-9]+$/;

describe('kv names', () => {
  it.each(['127.0.0.1:8080', 'node a', 'guild:1290000000000000001', 'é✓', '.leading', 'a>b*c'])('writes %j as a valid key and reads it back', (id) => {
    const key = encodeKey(id);
    expect(key).toMatch(KV_KEY);
    expect(key.startsWith('.') || key.endsWith('.')).toBe(false);
    expect(decodeKey(key)).toBe(id);
  });

  it('refuses an empty id and a cluster name a bucket cannot hold', () => {
    expect(() => encodeKey('')).toThrow(RangeError);
    expect(bucketName('guildhall', 'nodes')).toBe('guildhall-nodes');
    for (const bad of ['a.b', 'a b', 'a:b', '']) expect(() => bucketName(bad, 'nodes')).toThrow(RangeError);
  });
});
