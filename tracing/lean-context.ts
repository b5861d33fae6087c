// A minimal OpenTelemetry Context: each setValue or deleteValue is one small
// node pointing at the context it was made from. The API's BaseContext copies
// its whole Map and makes three closures per setValue; the Transport builds
// one per carrier (the parent) and one per kept delivery (its span's).
// Reads walk the chain, which stays a few nodes deep in practice (a span, a
// baggage, a suppression flag); a deep chain is flattened once it passes
// FLATTEN_DEPTH so a read never walks far.
import type { Context } from '@opentelemetry/api';

/** Marks a key deleted in a node, shadowing the same key further up. */
const DELETED: unique symbol = Symbol('guildhall.lean-context.deleted');

/** Nodes in a chain past which a new context is made flat (one node per live key). */
const FLATTEN_DEPTH = 16;

export class LeanContext implements Context {
  /** The empty context: what ROOT_CONTEXT is to the API's contexts. */
  static readonly ROOT: LeanContext = new LeanContext(undefined, undefined, undefined, 0);

  private constructor(
    private readonly parent: LeanContext | undefined,
    private readonly key: symbol | undefined,
    private readonly value: unknown,
    private readonly depth: number,
  ) {}

  getValue(key: symbol): unknown {
    const node = LeanContext.nodeOf(this, key);
    return node === undefined || node.value === DELETED ? undefined : node.value;
  }

  setValue(key: symbol, value: unknown): Context {
    return this.child(key, value);
  }

  deleteValue(key: symbol): Context {
    const node = LeanContext.nodeOf(this, key);
    return node === undefined || node.value === DELETED ? this : this.child(key, DELETED);
  }

  /** The nearest node of `key` from `from` up, if any. */
  private static nodeOf(from: LeanContext, key: symbol): LeanContext | undefined {
    for (let c: LeanContext | undefined = from; c !== undefined; c = c.parent) if (c.key === key) return c;
    return undefined;
  }

  private child(key: symbol, value: unknown): LeanContext {
    return this.depth < FLATTEN_DEPTH ? new LeanContext(this, key, value, this.depth + 1) : LeanContext.flattened(this, key, value);
  }

  /** `from` with `key` set to `value` (or deleted), rebuilt from its live keys: the nearest node of a key wins. */
  private static flattened(from: LeanContext, key: symbol, value: unknown): LeanContext {
    const seen = new Set<symbol>([key]);
    const live: [symbol, unknown][] = [];
    for (let c: LeanContext | undefined = from; c !== undefined; c = c.parent) {
      if (c.key === undefined || seen.has(c.key)) continue;
      seen.add(c.key);
      if (c.value !== DELETED) live.push([c.key, c.value]);
    }
    let flat = LeanContext.ROOT;
    for (let i = live.length - 1; i >= 0; i--) flat = new LeanContext(flat, live[i]![0], live[i]![1], flat.depth + 1);
    return value === DELETED ? flat : new LeanContext(flat, key, value, flat.depth + 1);
  }
}
