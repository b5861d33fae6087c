// Protocol Buffers encoding into one growing buffer, reused from one request
// to the next: the low-level half of otlp-protobuf.ts.
// Wire format: https://protobuf.dev/programming-guides/encoding/
import type { HrTime } from '@opentelemetry/api';

// Wire types.
export const VARINT = 0;
export const I64 = 1;
export const LEN = 2;
export const I32 = 5;

export const tag = (field: number, wire: number): number => (field << 3) | wire;

/** hexId() caches: a trace id, a parent span id, or neither. */
export const TRACE_ID = 0;
export const PARENT_ID = 1;
const NOT_KEPT = -1;

/** The writer's buffer: a 512-span batch of broadcast spans is about 300 KiB. */
const INITIAL_BYTES = 64 * 1024;
/** A buffer grown past this by an unusually large request is not kept for the next. */
const MAX_KEPT_BYTES = 4 * 1024 * 1024;

/** Distinct attribute keys whose encoding is kept; past this, keys are written each time. */
const MAX_CACHED_KEYS = 512;


export const INT64_MIN = -(2 ** 63);
export const INT64_LIMIT = 2 ** 63;

/** Writes protobuf into one growing buffer, reused from one request to the next. */
export class Writer {
  buf: Buffer = Buffer.allocUnsafe(INITIAL_BYTES);
  pos = 0;
  /** `KeyValue.key` (tag, length, bytes) of attribute keys seen before. */
  private readonly keys = new Map<string, KeyEntry>();
  /** hexId()'s one-entry caches: the last id of each kind, and its bytes. */
  private readonly idHex: string[] = ['', ''];
  private readonly idBytes: Uint8Array[] = [new Uint8Array(0), new Uint8Array(0)];

  reset(): void {
    this.pos = 0;
  }

  /** Goes on in a new buffer of `size` bytes, leaving the old one (and what was written in it) to whoever holds it. */
  fresh(size: number): void {
    this.buf = Buffer.allocUnsafe(size);
    this.pos = 0;
  }

  /** The bytes written, copied out (the buffer is reused, unless one huge request grew it). */
  take(): Uint8Array {
    const out = Buffer.from(this.buf.subarray(0, this.pos));
    if (this.buf.length > MAX_KEPT_BYTES) this.buf = Buffer.allocUnsafe(INITIAL_BYTES);
    return out;
  }

  /** Room for `n` more bytes: one comparison, small enough to be inlined into every write; growing is out of line. */
  ensure(n: number): void {
    if (this.pos + n > this.buf.length) this.grow(n);
  }

  private grow(n: number): void {
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = Buffer.allocUnsafe(size);
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
  }

  /** An unsigned varint below 2^32. */
  uint32(v: number): void {
    this.ensure(5);
    const b = this.buf;
    let p = this.pos;
    while (v > 0x7f) {
      b[p++] = (v & 0x7f) | 0x80;
      v >>>= 7;
    }
    b[p++] = v;
    this.pos = p;
  }

  /** A varint of any integer in int64 range (negatives as two's complement, 10 bytes). */
  int64(value: number): void {
    if (value >= 0 && value <= 0xffffffff) return this.uint32(value);
    let low: number;
    let high: number;
    if (value >= 0) {
      low = value >>> 0;
      high = (value / 0x100000000) >>> 0;
    } else {
      const abs = Math.abs(value);
      low = ~(abs >>> 0) >>> 0;
      high = ~((abs / 0x100000000) >>> 0) >>> 0;
      low = (low + 1) >>> 0;
      if (low === 0) high = (high + 1) >>> 0;
    }
    this.ensure(10);
    const b = this.buf;
    let p = this.pos;
    while (high > 0 || low > 0x7f) {
      b[p++] = (low & 0x7f) | 0x80;
      low = ((low >>> 7) | (high << 25)) >>> 0;
      high >>>= 7;
    }
    b[p++] = low & 0x7f;
    this.pos = p;
  }

  fixed32(v: number): void {
    this.ensure(4);
    this.pos = le32(this.buf, this.pos, v);
  }

  double(v: number): void {
    this.ensure(8);
    this.buf.writeDoubleLE(v, this.pos);
    this.pos += 8;
  }

  /** [seconds, nanoseconds] as fixed64 Unix nanoseconds, exact (no float rounding). */
  hrTime(t: HrTime): void {
    // seconds * 1e9 overflows 2^53, so seconds is split into 16-bit halves,
    // each product stays exact, and the 64-bit sum is carried by hand.
    const seconds = t[0];
    const lowSecNanos = (seconds & 0xffff) * 1e9;
    const highSecNanos = ((seconds / 0x10000) >>> 0) * 1e9;
    const low = (lowSecNanos >>> 0) + ((((highSecNanos & 0xffff) * 0x10000) >>> 0) + t[1]);
    const carry = Math.floor(low / 0x100000000);
    const high = (Math.floor(lowSecNanos / 0x100000000) + ((highSecNanos / 0x10000) >>> 0) + carry) >>> 0;
    this.ensure(8);
    this.pos = le32(this.buf, le32(this.buf, this.pos, low), high);
  }

  /** A length-delimited UTF-8 string; ASCII (nearly everything) in one pass. */
  string(s: string): void {
    const n = s.length;
    if (n < 0x80) {
      // Optimistically: one length byte, then the characters while they are ASCII.
      this.ensure(n + 1);
      const b = this.buf;
      const start = this.pos;
      let p = start + 1;
      let i = 0;
      for (; i < n; i++) {
        const c = s.charCodeAt(i);
        if (c > 0x7f) break;
        b[p++] = c;
      }
      if (i === n) {
        b[start] = n;
        this.pos = p;
        return;
      }
    }
    const bytes = Buffer.byteLength(s, 'utf8');
    this.uint32(bytes);
    this.ensure(bytes);
    this.pos += this.buf.write(s, this.pos, 'utf8');
  }

  /** Length-delimited bytes. */
  bytes(v: Uint8Array): void {
    this.uint32(v.length);
    this.ensure(v.length);
    this.buf.set(v, this.pos);
    this.pos += v.length;
  }

  /**
   * A trace or span id from its hex, as length-delimited bytes (as the SDK's
   * serializer reads hex). The spans of one trace share its trace id, and
   * most share a parent: `kept` names a one-entry cache (TRACE_ID, PARENT_ID)
   * whose last id is copied rather than decoded again.
   */
  hexId(hex: string, kept = NOT_KEPT): void {
    const n = hex.length >>> 1;
    this.ensure(n + 1);
    const b = this.buf;
    let p = this.pos;
    b[p++] = n;
    if (kept !== NOT_KEPT) {
      const bytes = this.idBytes[kept]!;
      if (hex === this.idHex[kept] && bytes.length === n) {
        // One call: a byte loop over a typed array costs more per byte here.
        b.set(bytes, p);
        this.pos = p + n;
        return;
      }
    }
    const start = p;
    for (let i = 0; i < 2 * n; i += 2) b[p++] = (nibble(hex.charCodeAt(i)) << 4) | nibble(hex.charCodeAt(i + 1));
    this.pos = p;
    if (kept === NOT_KEPT) return;
    let bytes = this.idBytes[kept]!;
    if (bytes.length !== n) this.idBytes[kept] = bytes = new Uint8Array(n);
    for (let i = 0; i < n; i++) bytes[i] = b[start + i]!;
    this.idHex[kept] = hex;
  }

  /**
   * Reserves `reserve` bytes for the length of a message about to be written;
   * returns where. A guess at the length's size, so that the body is seldom
   * moved: end() moves it when the length needs more or fewer bytes.
   */
  begin(reserve: number): number {
    this.ensure(reserve);
    const mark = this.pos;
    this.pos += reserve;
    return mark;
  }

  /** Writes the length of the message begun at `mark` with `reserve` bytes. */
  end(mark: number, reserve: number): void {
    const bodyStart = mark + reserve;
    const length = this.pos - bodyStart;
    const size = varintSize(length);
    if (size !== reserve) {
      this.ensure(size - reserve);
      this.buf.copyWithin(mark + size, bodyStart, this.pos);
      this.pos += size - reserve;
    }
    const b = this.buf;
    let p = mark;
    let v = length;
    while (v > 0x7f) {
      b[p++] = (v & 0x7f) | 0x80;
      v >>>= 7;
    }
    b[p] = v;
  }

  /** Bytes already encoded, as they are: `bytes[start, end)`. */
  raw(bytes: Uint8Array, start = 0, end = bytes.length): void {
    const n = end - start;
    this.ensure(n);
    this.buf.set(start === 0 && end === bytes.length ? bytes : bytes.subarray(start, end), this.pos);
    this.pos += n;
  }

  /** What is kept about attribute key `k` (undefined past MAX_CACHED_KEYS distinct keys). */
  keyEntry(k: string): KeyEntry | undefined {
    let entry = this.keys.get(k);
    if (entry === undefined && this.keys.size < MAX_CACHED_KEYS) {
      const start = this.pos;
      this.uint32(tag(1, LEN));
      this.string(k);
      entry = new KeyEntry(Buffer.from(this.buf.subarray(start, this.pos)));
      this.pos = start;
      this.keys.set(k, entry);
    }
    return entry;
  }

  /** `KeyValue.key` of an attribute: its cached bytes, or written out past the cache. */
  key(k: string, entry: KeyEntry | undefined): void {
    if (entry === undefined) {
      this.uint32(tag(1, LEN));
      this.string(k);
      return;
    }
    const encoded = entry.key;
    this.ensure(encoded.length);
    this.buf.set(encoded, this.pos);
    this.pos += encoded.length;
  }

  /**
   * Keeps the whole field written since `start` (tag, length, KeyValue) as
   * what `value` under this key encodes to, unless values of this key keep
   * changing (an id, a duration): then copying each one out would cost more
   * than it saves, and the key stops being kept.
   */
  rememberField(entry: KeyEntry, fieldTag: number, value: unknown, start: number): void {
    if (entry.field !== undefined && ++entry.misses > MISSES_ALLOWED && entry.misses > entry.hits) {
      entry.field = undefined;
      entry.volatile = true;
      return;
    }
    if (this.pos - start > MAX_KEPT_FIELD) return;
    entry.field = Buffer.from(this.buf.subarray(start, this.pos));
    entry.fieldTag = fieldTag;
    entry.value = value;
  }
}

/** Misses (a new value for a kept key) tolerated before a key whose values keep changing is no longer kept. */
const MISSES_ALLOWED = 16;
/** Fields longer than this are not kept: a copy is not cheaper than writing them. */
const MAX_KEPT_FIELD = 256;

/**
 * An attribute key: its encoded `KeyValue.key`, and the last field written
 * for it when its value was a primitive: most attributes of a server's spans
 * repeat (the messaging system, an operation, a kind, a broadcast's size and
 * rate), and a repeated one is then one copy instead of a key and a value.
 */
export class KeyEntry {
  field: Uint8Array | undefined = undefined;
  fieldTag = 0;
  value: unknown = undefined;
  hits = 0;
  misses = 0;
  volatile = false;
  constructor(readonly key: Uint8Array) {}
}

/** `v` as 4 little-endian bytes at `p` (room ensured); returns the position after. Buffer's writeUInt32LE checks its arguments first. */
function le32(b: Buffer, p: number, v: number): number {
  b[p] = v;
  b[p + 1] = v >>> 8;
  b[p + 2] = v >>> 16;
  b[p + 3] = v >>> 24;
  return p + 4;
}

/** A hex digit's value as the SDK's serializer reads it (A-F too; anything else as its code minus 55). */
function nibble(c: number): number {
  return c < 128 ? HEX[c]! : c - 55;
}
const HEX = new Int32Array(128);
for (let c = 0; c < 128; c++) HEX[c] = c >= 48 && c <= 57 ? c - 48 : c >= 97 && c <= 102 ? c - 87 : c - 55;

function varintSize(v: number): number {
  return v < 0x80 ? 1 : v < 0x4000 ? 2 : v < 0x200000 ? 3 : v < 0x10000000 ? 4 : 5;
}
