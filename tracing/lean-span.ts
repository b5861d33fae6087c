// A recording span with the SDK span's behaviour (attribute, event and link
// limits, time rules, status rules, exceptions, the processors' onStart and
// onEnd) and its ReadableSpan shape, in far fewer steps: no copy of the
// attributes beyond the one the tracer makes, no per-span limit or clock
// objects, shared empty events and status until something is set. The server
// makes about fourteen spans per sampled broadcast, so what each costs is
// what a sampled broadcast costs (bench/README.md, "Tracing cost").
//
// Times follow the SDK's span exactly (sdk-trace's SpanImpl._getTime): a
// number at or below performance.now() is a performance timestamp, any other
// number is epoch ms; with no start time given the span starts at Date.now()
// and ends at its start plus the performance clock's elapsed time.
import {
  type Attributes,
  type AttributeValue,
  type Context,
  type Exception,
  type HrTime,
  type Link,
  type Span,
  type SpanAttributes,
  type SpanContext,
  type SpanKind,
  type SpanStatus,
  SpanStatusCode,
  type TimeInput,
  diag,
} from '@opentelemetry/api';
import { hrTime, hrTimeDuration, isAttributeValue, isTimeInput, isTimeInputHrTime, millisToHrTime } from '@opentelemetry/core';
import type { ReadableSpan, SpanLimits, SpanProcessor, TimedEvent } from '@opentelemetry/sdk-trace-base';
// Imported, not the global: a global `performance` is looked up on globalThis at each read.
import { performance } from 'node:perf_hooks';

/** Limits as the SDK resolves them (every field set; Infinity or 128 by default). */
export type ResolvedSpanLimits = Required<Pick<SpanLimits, 'attributeValueLengthLimit' | 'attributeCountLimit' | 'linkCountLimit' | 'eventCountLimit' | 'attributePerEventCountLimit' | 'attributePerLinkCountLimit'>>;

/** What every span of one tracer shares. */
/** OpenTelemetry's default span limits (what the SDK resolves with no OTEL_SPAN_* set). */
export const DEFAULT_SPAN_LIMITS: ResolvedSpanLimits = {
  attributeValueLengthLimit: Infinity,
  attributeCountLimit: 128,
  linkCountLimit: 128,
  eventCountLimit: 128,
  attributePerEventCountLimit: 128,
  attributePerLinkCountLimit: 128,
};

export interface LeanSpanShared {
  readonly resource: ReadableSpan['resource'];
  readonly scope: ReadableSpan['instrumentationScope'];
  readonly limits: ResolvedSpanLimits;
  readonly processors: readonly SpanProcessor[];
}

const UNSET: SpanStatus = Object.freeze({ code: SpanStatusCode.UNSET });
const NO_EVENTS: TimedEvent[] = Object.freeze([]) as unknown as TimedEvent[];
const NO_LINKS: Link[] = Object.freeze([]) as unknown as Link[];
const NO_ATTRIBUTES: Attributes = Object.freeze({});
const NONE_KEPT = { attributes: NO_ATTRIBUTES, count: 0, dropped: 0 } as const;
const hasOwn = Object.prototype.hasOwnProperty;
/** Fixed for the life of the process (a getter on each read). */
const TIME_ORIGIN = performance.timeOrigin;

// semantic-conventions' exception attributes (ATTR_EXCEPTION_*), as the SDK's recordException sets them.
const EXCEPTION_TYPE = 'exception.type';
const EXCEPTION_MESSAGE = 'exception.message';
const EXCEPTION_STACKTRACE = 'exception.stacktrace';

/** A primitive attribute value (the common case), or any other valid one. */
export function validAttributeValue(value: unknown): boolean {
  const t = typeof value;
  return t === 'string' || t === 'number' || t === 'boolean' || isAttributeValue(value);
}

export class LeanSpan implements Span, ReadableSpan {
  readonly kind: SpanKind;
  readonly parentSpanContext: SpanContext | undefined;
  readonly startTime: HrTime;
  readonly resource: ReadableSpan['resource'];
  readonly instrumentationScope: ReadableSpan['instrumentationScope'];
  name: string;
  attributes: Attributes;
  links: Link[] = NO_LINKS;
  events: TimedEvent[] = NO_EVENTS;
  status: SpanStatus = UNSET;
  endTime: HrTime = [0, 0];
  duration: HrTime = [-1, -1];
  ended = false;
  droppedAttributesCount = 0;
  droppedEventsCount = 0;
  droppedLinksCount = 0;
  private attributeCount: number;
  private readonly perfStart: number;
  private readonly perfOffset: number;
  private readonly startTimeProvided: boolean;
  private readonly shared: LeanSpanShared;
  private readonly context: SpanContext;

  /**
   * `attributes`: already the span's own object (the tracer copied and
   * checked the caller's), `count` its keys; `links` already sanitised.
   */
  constructor(
    shared: LeanSpanShared,
    parentContext: Context,
    spanContext: SpanContext,
    name: string,
    kind: SpanKind,
    parent: SpanContext | undefined,
    attributes: Attributes,
    count: number,
    links: readonly Link[] | undefined,
    startTime: TimeInput | undefined,
  ) {
    const now = Date.now();
    this.shared = shared;
    this.context = spanContext;
    this.name = name;
    this.kind = kind;
    this.parentSpanContext = parent;
    this.perfStart = performance.now();
    this.perfOffset = now - (this.perfStart + TIME_ORIGIN);
    this.startTimeProvided = startTime != null;
    this.resource = shared.resource;
    this.instrumentationScope = shared.scope;
    const limits = shared.limits;
    if (count <= limits.attributeCountLimit && limits.attributeValueLengthLimit === Infinity) {
      this.attributes = attributes;
      this.attributeCount = count;
    } else {
      // Past a limit: the SDK's way, one attribute at a time.
      this.attributes = {};
      this.attributeCount = 0;
      for (const k in attributes) this.setAttribute(k, attributes[k]!);
    }
    if (links !== undefined) for (const link of links) this.addLink(link);
    this.startTime = this.time(startTime ?? now);
    const processors = shared.processors;
    for (let i = 0; i < processors.length; i++) processors[i]!.onStart(this as never, parentContext);
  }

  spanContext(): SpanContext {
    return this.context;
  }

  isRecording(): boolean {
    return !this.ended;
  }

  setAttribute(key: string, value: SpanAttributes[string]): this {
    if (value == null || this.endedCheck()) return this;
    if (key.length === 0) {
      diag.warn(`Invalid attribute key: ${key}`);
      return this;
    }
    if (!validAttributeValue(value)) {
      diag.warn(`Invalid attribute value set for key: ${key}`);
      return this;
    }
    const attributes = this.attributes;
    if (!hasOwn.call(attributes, key)) {
      if (this.attributeCount >= this.shared.limits.attributeCountLimit) {
        this.droppedAttributesCount++;
        return this;
      }
      this.attributeCount++;
    }
    attributes[key] = this.truncate(value);
    return this;
  }

  setAttributes(attributes: SpanAttributes): this {
    for (const k in attributes) if (hasOwn.call(attributes, k)) this.setAttribute(k, attributes[k]);
    return this;
  }

  addEvent(name: string, attributesOrTime?: Attributes | TimeInput, time?: TimeInput): this {
    if (this.endedCheck()) return this;
    const limits = this.shared.limits;
    if (limits.eventCountLimit === 0) {
      diag.warn('No events allowed.');
      this.droppedEventsCount++;
      return this;
    }
    if (this.events === NO_EVENTS) this.events = [];
    else if (this.events.length >= limits.eventCountLimit) {
      if (this.droppedEventsCount === 0) diag.debug('Dropping extra events.');
      this.events.shift();
      this.droppedEventsCount++;
    }
    if (isTimeInput(attributesOrTime)) {
      if (!isTimeInput(time)) time = attributesOrTime;
      attributesOrTime = undefined;
    }
    const { attributes, dropped } = attributesOrTime === undefined ? NONE_KEPT : this.kept(attributesOrTime, limits.attributePerEventCountLimit);
    this.events.push({ name, attributes, time: this.time(time), droppedAttributesCount: dropped });
    return this;
  }

  addLink(link: Link): this {
    if (this.endedCheck()) return this;
    const limits = this.shared.limits;
    if (limits.linkCountLimit === 0) {
      this.droppedLinksCount++;
      return this;
    }
    if (this.links === NO_LINKS) this.links = [];
    else if (this.links.length >= limits.linkCountLimit) {
      if (this.droppedLinksCount === 0) diag.debug('Dropping extra links.');
      this.links.shift();
      this.droppedLinksCount++;
    }
    const processed: Link = { context: link.context };
    if (link.attributes !== undefined) {
      const { attributes, count, dropped } = this.kept(link.attributes, limits.attributePerLinkCountLimit);
      if (count > 0) processed.attributes = attributes;
      if (dropped > 0) processed.droppedAttributesCount = dropped;
    }
    this.links.push(processed);
    return this;
  }

  addLinks(links: Link[]): this {
    for (const link of links) this.addLink(link);
    return this;
  }

  setStatus(status: SpanStatus): this {
    if (this.endedCheck()) return this;
    if (status.code === SpanStatusCode.UNSET || this.status.code === SpanStatusCode.OK) return this;
    const next: SpanStatus = { code: status.code };
    if (status.code === SpanStatusCode.ERROR) {
      if (typeof status.message === 'string') next.message = status.message;
      else if (status.message != null) diag.warn(`Dropping invalid status.message of type '${typeof status.message}', expected 'string'`);
    }
    this.status = next;
    return this;
  }

  updateName(name: string): this {
    if (!this.endedCheck()) this.name = name;
    return this;
  }

  recordException(exception: Exception, time?: TimeInput): void {
    const attributes: Attributes = {};
    if (typeof exception === 'string') attributes[EXCEPTION_MESSAGE] = exception;
    else if (exception) {
      if (exception.code) attributes[EXCEPTION_TYPE] = exception.code.toString();
      else if (exception.name) attributes[EXCEPTION_TYPE] = exception.name;
      if (exception.message) attributes[EXCEPTION_MESSAGE] = exception.message;
      if (exception.stack) attributes[EXCEPTION_STACKTRACE] = exception.stack;
    }
    if (attributes[EXCEPTION_TYPE] || attributes[EXCEPTION_MESSAGE]) this.addEvent('exception', attributes, time);
    else diag.warn(`Failed to record an exception ${String(exception)}`);
  }

  end(endTime?: TimeInput): void {
    if (this.ended) {
      diag.error(`${this.name} ${this.context.traceId}-${this.context.spanId} - You can only call end() on a span once.`);
      return;
    }
    this.endTime = this.time(endTime);
    this.duration = hrTimeDuration(this.startTime, this.endTime);
    if (this.duration[0] < 0) {
      diag.warn('Inconsistent start and end time, startTime > endTime. Setting span duration to 0ms.', this.startTime, this.endTime);
      this.endTime = this.startTime.slice() as HrTime;
      this.duration = [0, 0];
    }
    if (this.droppedEventsCount > 0) diag.warn(`Dropped ${this.droppedEventsCount} events because eventCountLimit reached`);
    if (this.droppedLinksCount > 0) diag.warn(`Dropped ${this.droppedLinksCount} links because linkCountLimit reached`);
    const processors = this.shared.processors;
    for (let i = 0; i < processors.length; i++) (processors[i] as { onEnding?: (s: ReadableSpan) => void }).onEnding?.(this);
    this.ended = true;
    for (let i = 0; i < processors.length; i++) processors[i]!.onEnd(this);
  }

  /** The SDK span's _getTime. */
  private time(input: TimeInput | undefined): HrTime {
    if (typeof input === 'number') return input <= performance.now() ? hrTime(input + this.perfOffset) : millisToHrTime(input);
    if (input instanceof Date) return millisToHrTime(input.getTime());
    if (isTimeInputHrTime(input)) return input;
    if (this.startTimeProvided) return millisToHrTime(Date.now());
    const elapsed = millisToHrTime(performance.now() - this.perfStart);
    // addHrTimes, as the SDK: the start plus the elapsed time, nanoseconds carried.
    let seconds = this.startTime[0] + elapsed[0];
    let nanos = this.startTime[1] + elapsed[1];
    if (nanos >= 1e9) {
      nanos -= 1e9;
      seconds += 1;
    }
    return [seconds, nanos];
  }

  /** An event's or a link's attributes: the valid ones, copied and truncated, up to `limit`; the rest counted. */
  private kept(source: Attributes, limit: number): { attributes: Attributes; count: number; dropped: number } {
    const attributes: Attributes = {};
    let count = 0;
    let dropped = 0;
    for (const k in source) {
      if (!hasOwn.call(source, k)) continue;
      const v = source[k];
      if (!validAttribute(k, v)) continue;
      if (count >= limit) {
        dropped++;
        continue;
      }
      attributes[k] = this.truncate(copied(v!));
      count++;
    }
    return { attributes, count, dropped };
  }

  private truncate(value: AttributeValue): AttributeValue {
    const limit = this.shared.limits.attributeValueLengthLimit;
    if (limit === Infinity) return value;
    if (limit <= 0) {
      diag.warn(`Attribute value limit must be positive, got ${limit}`);
      return value;
    }
    if (typeof value === 'string') return value.length <= limit ? value : value.substring(0, limit);
    if (Array.isArray(value)) return value.map((v: unknown) => (typeof v === 'string' && v.length > limit ? v.substring(0, limit) : v)) as AttributeValue;
    return value;
  }

  private endedCheck(): boolean {
    if (this.ended) {
      const c = this.context;
      diag.warn(`Cannot execute the operation on ended Span {traceId: ${c.traceId}, spanId: ${c.spanId}}`, new Error(`Operation attempted on ended Span {traceId: ${c.traceId}, spanId: ${c.spanId}}`));
    }
    return this.ended;
  }
}

/** An array value is copied, as core's sanitizeAttributes does: the caller may change its own. */
export function copied(value: AttributeValue): AttributeValue {
  return Array.isArray(value) ? (value.slice() as AttributeValue) : value;
}

/** What core's sanitizeAttributes keeps: a non-empty key and a valid value (with its warnings). */
export function validAttribute(key: string, value: unknown): value is AttributeValue {
  if (typeof key !== 'string' || key.length === 0) {
    diag.warn(`Invalid attribute key: ${key}`);
    return false;
  }
  if (!validAttributeValue(value)) {
    diag.warn(`Invalid attribute value set for key: ${key}`);
    return false;
  }
  return true;
}
