// The one codec for everything that crosses a process: JSON, with actor refs
// written as their address and read back as refs of the receiving system.
// Only plain data crosses: strings, finite numbers, booleans, null, arrays,
// plain objects and refs. Anything else (a class instance, a Map, a Buffer, a
// Date, a function, a bigint, NaN) is refused with ACTOR_ERR_NOT_SERIALISABLE
// naming where it was, rather than arriving as something else.
import { ActorError, ActorErrorCode, ActorRef, type Address, type Protocol } from '../actors/index.js';

/** The key a ref is written under: `{"$ref":[node,id,kind]}`. A plain object may not use it. */
const REF_KEY = '$ref';

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
      if (proto !== Object.prototype && proto !== null) refuse(`a ${proto?.constructor?.name ?? 'class instance'}`, key);
      if (Object.prototype.hasOwnProperty.call(original, REF_KEY)) refuse(`an object with the reserved key ${REF_KEY}`, key);
      return value;
    }
    default:
      return refuse(`a ${typeof original}`, key);
  }
}

/** JSON text of `value`; throws ACTOR_ERR_NOT_SERIALISABLE for anything but plain data and refs. */
export function encodeValue(value: unknown): string {
  const text = JSON.stringify({ v: value }, replacer) as string;
  // {"v": ...} keeps the top level inside the replacer's holder; strip it back off.
  return text.length === 2 ? 'null' : text.slice(5, -1);
}

/** Makes refs for decoded addresses: the receiving system's refFor. */
export type RefMaker = (address: Address) => ActorRef<Protocol>;

/** Parses what encodeValue wrote, turning addresses back into refs. */
export function decodeValue(text: string, refFor: RefMaker): unknown {
  if (!text.includes(`"${REF_KEY}"`)) return JSON.parse(text);
  return JSON.parse(text, (_key, value: unknown) => {
    if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
      const ref = (value as Record<string, unknown>)[REF_KEY];
      if (Array.isArray(ref) && ref.length === 3 && ref.every((p) => typeof p === 'string')) {
        const [node, id, kind] = ref as [string, string, string];
        return refFor({ node, id, kind });
      }
    }
    return value;
  });
}
