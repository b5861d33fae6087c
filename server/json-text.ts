// JSON encoded once and written as is by everyone who sends the same value.
// A new message is sent twice, as the REST answer to its author and inside
// MESSAGE_CREATE to the guild's sessions; JSON.stringify of it (and of the
// event wrapping it) was the largest single cost of a post in the server's own
// code. The guild encodes the message once, builds the event's JSON around that
// text, and leaves the text with the message object for the REST answer.
//
// Two ways to hand text on:
// - `JsonText` stands in for a value where an encoder expects one (a dispatch's
//   `d`): `encodeJson` writes its text instead of stringifying it.
// - `rememberJson` ties the text to the object it encodes, for a caller that
//   gets the object back (the REST route); `knownJson` finds it. Weakly held:
//   the object's lifetime is the text's. The object must not change after.

/** A value already encoded as JSON; `text` may be made on first use (a variant no one may need). */
export class JsonText {
  private encoded: string | undefined;
  private make: (() => string) | undefined;

  constructor(text: string | (() => string)) {
    if (typeof text === 'string') this.encoded = text;
    else this.make = text;
  }

  get text(): string {
    if (this.encoded === undefined) {
      this.encoded = this.make!();
      this.make = undefined;
    }
    return this.encoded;
  }
}

/** `value`'s JSON: a JsonText's own text, anything else through JSON.stringify. */
export function encodeJson(value: unknown): string {
  return value instanceof JsonText ? value.text : JSON.stringify(value);
}

const known = new WeakMap<object, string>();

/** Records that `text` is `value`'s JSON (JSON.stringify's, byte for byte); returns `value`. */
export function rememberJson<T extends object>(value: T, text: string): T {
  known.set(value, text);
  return value;
}

/** The JSON recorded for `value`, if any. */
export function knownJson(value: unknown): string | undefined {
  return typeof value === 'object' && value !== null ? known.get(value) : undefined;
}
