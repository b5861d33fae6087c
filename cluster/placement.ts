// Where a key (a guild id) lives: rendezvous, or highest-random-weight,
// hashing (Thaler & Ravishankar 1996). Each node gets a pseudo-random weight
// for the key and the heaviest node wins, so every node computes the same
// home from the same live set with no coordination, and when a node joins or
// leaves only the keys it wins or held move: everything else stays put.
// Deterministic and free of I/O; the weight is a 53-bit hash (cyrb53-style:
// two 32-bit multiply-xorshift lanes, https://github.com/bryc/code) so ties
// are practically impossible, and are broken by the smaller node id anyway.

/** Lane state after hashing `key`: the per-node part continues from here, so the key is read once. */
function keyState(key: string): [number, number] {
  let h1 = 0xdeadbeef;
  let h2 = 0x41c6ce57;
  for (let i = 0; i < key.length; i++) {
    const c = key.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 2654435761);
    h2 = Math.imul(h2 ^ c, 1597334677);
  }
  // The length keeps (key, node) pairs apart that would concatenate to the same text.
  h1 = Math.imul(h1 ^ key.length, 2654435761);
  h2 = Math.imul(h2 ^ key.length, 1597334677);
  return [h1, h2];
}

/** The 53-bit weight of `node` for the key whose lane state is `state`. */
function weight(state: readonly [number, number], node: string): number {
  let h1 = state[0];
  let h2 = state[1];
  for (let i = 0; i < node.length; i++) {
    const c = node.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 2654435761);
    h2 = Math.imul(h2 ^ c, 1597334677);
  }
  // Finaliser: every input bit reaches every output bit (avalanche), which is
  // what makes weights of similar node ids ("10.0.0.1:8080", "10.0.0.2:8080") independent.
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507);
  h1 ^= Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507);
  h2 ^= Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return 4294967296 * (2097151 & h2) + (h1 >>> 0);
}

/**
 * The home of `key` among `nodeIds`: the node with the highest weight for it,
 * the smaller id on a tie; undefined when there is no node. The order of
 * `nodeIds` does not matter.
 */
export function rendezvousHome(key: string, nodeIds: readonly string[]): string | undefined {
  if (nodeIds.length === 0) return undefined;
  const state = keyState(key);
  let best: string | undefined;
  let bestWeight = -1;
  for (const node of nodeIds) {
    const w = weight(state, node);
    if (w > bestWeight || (w === bestWeight && best !== undefined && node < best)) {
      best = node;
      bestWeight = w;
    }
  }
  return best;
}
