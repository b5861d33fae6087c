// The one codec for everything that crosses a process: JSON, with actor refs
// written as their address and read back as refs of the receiving system.
// Only plain data crosses: strings, finite numbers, booleans, null, arrays,
// plain objects, refs and instances of registered wire types. Anything else (a
// class instance, a Map, a Buffer, a Date, a function, a bigint, NaN) is
// refused with ACTOR_ERR_NOT_SERIALISABLE naming where it was, rather than
// arriving as something else.
import { ActorError, ActorErrorCode, ActorRef, type Address, type Protocol } from '../actors/index.js';

/** The key a ref is written under: `{"$ref":[node,id,kind]}`. A plain object may not use it. */
const REF_KEY = '$ref';
/** The key a registered type is written under: `{"$t":[tag,data]}`. Reserved like REF_KEY. */
const TYPE_KEY = '$t';

/**
 * A class whose instances may cross: `toWire` gives plain data (refs and other
 * wire types allowed inside), `fromWire` rebuilds the instance on the receiving
 * node. Both sides must register the same tag before traffic flows (at import
 * of the module that defines the class).
 */
export interface WireType<T> {
  tag: string;
  is(value: unknown): value is T;
  toWire(value: T): unknown;
  fromWire(data: unknown): T;
}

const wireTypes: WireType<unknown>[] = [];
const wireTypesByTag = new Map<string, WireType<unknown>>();

/** What the decoder refused: frames naming a tag this process never registered (a version skew between nodes). */
export const codecStats = { unknownWireTypes: 0 };

/** Lets instances of `type` cross. Registering the same type again is a no-op; another type under a taken tag throws. */
export function registerWireType<T>(type: WireType<T>): void {
  const existing = wireTypesByTag.get(type.tag);
  if (existing === (type as WireType<unknown>)) return;
  if (existing !== undefined) throw new Error(`wire type tag "${type.tag}" is already registered`);
  if (type.tag === '') throw new Error('a wire type needs a non-empty tag');
  wireTypes.push(type as WireType<unknown>);
  wireTypesByTag.set(type.tag, type as WireType<unknown>);
}

function wireTypeOf(value: object): WireType<unknown> | undefined {
  // A handful of types at most: a scan beats a lookup structure here.
  for (const type of wireTypes) if (type.is(value)) return type;
  return undefined;
}

function refuse(what: string, key: string): never {
  throw new ActorError(ActorErrorCode.NOT_SERIALISABLE, `cannot send ${what}${key === '' ? '' : ` (at key "${key}")`} to another node: only plain data and actor refs cross`);
}

// JSON.stringify calls toJSON before the replacer, so the original is read
// from the holder: a Date or Buffer is refused, not silently turned into text.
function replacer(this: Record<string, unknown>, key: string, value: unknown): unknown {
  const original = this[key];
  switch (typeof original) {
    case 'string':
    case 'boolean':
    case 'undefined':
      return value;
    case 'number':
      if (!Number.isFinite(original)) refuse(String(original), key);
      return value;
    case 'object': {
      if (original === null) return null;
      if (Array.isArray(original)) return value;
      if (original instanceof ActorRef) {
        const a = original.address;
        return { [REF_KEY]: [a.node, a.id, a.kind] };
      }
      const proto = Object.getPrototypeOf(original);
      if (proto !== Object.prototype && proto !== null) {
        const type = wireTypes.length === 0 ? undefined : wireTypeOf(original);
        if (type === undefined) refuse(`a ${proto?.constructor?.name ?? 'class instance'}`, key);
        // Stringify goes on into what this returns, so the data's own refs and types are written too.
        return { [TYPE_KEY]: [type.tag, type.toWire(original)] };
      }
      if (Object.prototype.hasOwnProperty.call(original, REF_KEY)) refuse(`an object with the reserved key ${REF_KEY}`, key);
      if (Object.prototype.hasOwnProperty.call(original, TYPE_KEY)) refuse(`an object with the reserved key ${TYPE_KEY}`, key);
      return value;
    }
    default:
      return refuse(`a ${typeof original}`, key);
  }
}

/** JSON text of `value`; throws ACTOR_ERR_NOT_SERIALISABLE for anything but plain data, refs and wire types. */
export function encodeValue(value: unknown): string {
  const text = JSON.stringify({ v: value }, replacer) as string;
  // {"v": ...} keeps the top level inside the replacer's holder; strip it back off.
  return text.length === 2 ? 'null' : text.slice(5, -1);
}

/** Makes refs for decoded addresses: the receiving system's refFor. */
export type RefMaker = (address: Address) => ActorRef<Protocol>;

const HAS_REF = 1;
const HAS_TYPE = 2;

/** Which of `"$ref"` and `"$t"` occur (bits): most frames have neither and skip the reviver. One scan for both. */
function reservedKeysIn(text: string): number {
  let found = 0;
  for (let i = text.indexOf('"$'); i !== -1 && found !== (HAS_REF | HAS_TYPE); i = text.indexOf('"$', i + 2)) {
    if (text.startsWith('ref"', i + 2)) found |= HAS_REF;
    else if (text.startsWith('t"', i + 2)) found |= HAS_TYPE;
  }
  return found;
}

function revive(wire: unknown): unknown {
  const type = Array.isArray(wire) && wire.length === 2 && typeof wire[0] === 'string' ? wireTypesByTag.get(wire[0]) : undefined;
  if (type === undefined) {
    codecStats.unknownWireTypes++;
    const what = Array.isArray(wire) ? `an unknown wire type ${JSON.stringify(wire[0])}` : 'a malformed wire type';
    throw new ActorError(ActorErrorCode.NOT_SERIALISABLE, `cannot decode ${what}: register it with registerWireType on every node`);
  }
  return type.fromWire((wire as unknown[])[1]);
}

/**
 * Parses what encodeValue wrote, turning addresses back into refs and wire
 * types back into instances (inner values first: a type's data arrives with
 * its refs already revived). Throws ACTOR_ERR_NOT_SERIALISABLE for a type tag
 * this process has not registered, counted in codecStats.
 */
export function decodeValue(text: string, refFor: RefMaker): unknown {
  const found = reservedKeysIn(text);
  if (found === 0) return JSON.parse(text);
  const types = (found & HAS_TYPE) !== 0;
  return JSON.parse(text, (_key, value: unknown) => {
    if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
      const record = value as Record<string, unknown>;
      const ref = record[REF_KEY];
      if (Array.isArray(ref) && ref.length === 3 && ref.every((p) => typeof p === 'string')) {
        const [node, id, kind] = ref as [string, string, string];
        return refFor({ node, id, kind });
      }
      // JSON.parse makes plain objects, whose prototype has no "$t": a read is enough.
      if (types && record[TYPE_KEY] !== undefined) return revive(record[TYPE_KEY]);
    }
    return value;
  });
}
