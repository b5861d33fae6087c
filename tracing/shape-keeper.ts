// Keeps the last few ended spans reachable, so that the object shapes of the
// sampled path outlive a stretch without sampled work.
//
// V8's optimised code holds the maps (hidden classes) it was specialised for
// weakly, and a major collection that finds a map unused throws that code
// away ("weak objects" in node --trace-deopt). Many of a span's objects get
// their shape by having properties added after they were made (an attribute
// set as the span ends, an event's attributes copied key by key, a carrier's
// optional fields), and such a map is reached only through its transition,
// which is weak too: with no span alive across a major collection, the next
// sampled broadcast found the tracer, the Transport and the encoder
// deoptimised, ran them unoptimised and compiled them again (measured in
// bench/README.md, "Where a sampled broadcast's CPU goes, profiled"). Sampled
// work comes and goes, a trace at a time; 64 kept spans hold about 90 KB
// (1.4 KB a kept delivery's span with its attributes and events, measured).
import type { Context } from '@opentelemetry/api';
import type { ReadableSpan, Span, SpanProcessor } from '@opentelemetry/sdk-trace-base';

/**
 * The last object of each sampled-only shape that is not a span, kept for the
 * same reason: written where each is made (a broadcast's carrier and the
 * envelope of its kept deliveries, a span's encoded form), never read.
 */
export const lastOfShape: { carrier?: object; envelope?: object; encoded?: object } = {};

/** Spans kept: a sampled broadcast makes about fourteen, of about eight kinds. */
export const DEFAULT_KEPT_SPANS = 64;

export class ShapeKeeper implements SpanProcessor {
  private readonly kept: (ReadableSpan | undefined)[];
  private at = 0;

  constructor(readonly size: number = DEFAULT_KEPT_SPANS) {
    if (!Number.isInteger(size) || size < 1) throw new RangeError(`kept spans must be a positive integer, got ${size}`);
    this.kept = new Array<ReadableSpan | undefined>(size).fill(undefined);
  }

  onStart(_span: Span, _parentContext: Context): void {}

  onEnd(span: ReadableSpan): void {
    const at = this.at;
    this.kept[at] = span;
    this.at = at + 1 === this.size ? 0 : at + 1;
  }

  /** The spans held now, oldest first (for tests). */
  held(): ReadableSpan[] {
    const out: ReadableSpan[] = [];
    for (let i = 0; i < this.size; i++) {
      const span = this.kept[(this.at + i) % this.size];
      if (span !== undefined) out.push(span);
    }
    return out;
  }

  forceFlush(): Promise<void> {
    return Promise.resolve();
  }

  shutdown(): Promise<void> {
    this.kept.fill(undefined);
    return Promise.resolve();
  }

  toString(): string {
    return `ShapeKeeper{kept=${this.size}}`;
  }
}
