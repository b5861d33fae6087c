// Round-robin over the nodes, passing over one that refused a connection.
import { describe, expect, it } from 'vitest';
import { maxSnowflake } from '../../client-sim/history.js';
import { NodeRing } from '../../client-sim/node-ring.js';

describe('NodeRing', () => {
  it('goes round-robin and passes over a node that refused, for a moment', async () => {
    const ring = new NodeRing(['a', 'b', 'c']);
    expect([ring.next(), ring.next(), ring.next(), ring.next()]).toEqual(['a', 'b', 'c', 'a']);
    ring.failed('b');
    expect([ring.next(), ring.next(), ring.next()]).toEqual(['c', 'a', 'c']);
  });

  it('still answers when every node is down', () => {
    const ring = new NodeRing(['a', 'b']);
    ring.failed('a');
    ring.failed('b');
    expect(['a', 'b']).toContain(ring.next());
  });

  it('needs a node', () => {
    expect(() => new NodeRing([])).toThrow();
  });
});

describe('maxSnowflake', () => {
  it('compares ids as 64-bit numbers, not strings', () => {
    expect(maxSnowflake(undefined, '9')).toBe('9');
    expect(maxSnowflake('9', '10')).toBe('10');
    expect(maxSnowflake('1300000000000000000', '999999999999999999')).toBe('1300000000000000000');
  });
});
