// GET /debug/traces/{trace_id}: one trace as a waterfall, spans nested under
// their parents. A process span starts when its message was ENQUEUED, so the
// first guildhall.mailbox.wait_ms of its bar is time spent waiting in the
// actor's mailbox and the rest is handling: the two are drawn differently
// (hatched amber, then solid green), because "the guild was slow" and "the
// guild was busy with others" call for different fixes. Spans that tail
// capture recorded because they were slow (guildhall.tail=true, not a random
// sample) are outlined and badged "slow".
import { SpanKind } from '@opentelemetry/api';
import { ATTR_FANOUT_SIZE, ATTR_GUILD_ID, ATTR_HANDLE_MS, ATTR_MAILBOX_WAIT_MS, ATTR_TAIL, type StoredSpan, type TraceSummary } from '../../tracing/index.js';
import { esc, formatMs, formatTime, page } from './html.js';

interface Row {
  span: StoredSpan;
  depth: number;
}

const KIND_NAMES: Record<number, string> = {
  [SpanKind.INTERNAL]: 'internal',
  [SpanKind.SERVER]: 'server',
  [SpanKind.CLIENT]: 'client',
  [SpanKind.PRODUCER]: 'producer',
  [SpanKind.CONSUMER]: 'consumer',
};

/** Depth-first, children in start order; spans whose parent is not stored are roots. */
export function waterfallRows(spans: readonly StoredSpan[]): Row[] {
  const ids = new Set(spans.map((s) => s.spanId));
  const children = new Map<string, StoredSpan[]>();
  const roots: StoredSpan[] = [];
  for (const s of spans) {
    if (s.parentSpanId === undefined || !ids.has(s.parentSpanId)) roots.push(s);
    else {
      let list = children.get(s.parentSpanId);
      if (!list) children.set(s.parentSpanId, (list = []));
      list.push(s);
    }
  }
  const byStart = (a: StoredSpan, b: StoredSpan) => a.startMs - b.startMs;
  const rows: Row[] = [];
  // Iterative: a trace can be deep (a chain of calls) and has up to thousands of spans.
  const stack: Row[] = roots.sort(byStart).reverse().map((span) => ({ span, depth: 0 }));
  while (stack.length > 0) {
    const row = stack.pop()!;
    rows.push(row);
    const kids = children.get(row.span.spanId);
    if (kids) for (const k of kids.sort(byStart).reverse()) stack.push({ span: k, depth: row.depth + 1 });
  }
  return rows;
}

/** How much of a span's bar was mailbox wait (ms), if it is a process span that recorded it. */
export function mailboxWaitMs(span: StoredSpan): number | undefined {
  const wait = span.attributes[ATTR_MAILBOX_WAIT_MS];
  return typeof wait === 'number' && wait >= 0 ? Math.min(wait, span.durationMs) : undefined;
}

const pct = (n: number) => `${Math.max(0, Math.min(100, n)).toFixed(3)}%`;

function attributeTable(span: StoredSpan): string {
  const rows = [
    ['span id', span.spanId],
    ['parent', span.parentSpanId ?? '(root)'],
    ['kind', KIND_NAMES[span.kind] ?? String(span.kind)],
    ['start', formatTime(span.startMs)],
    ['duration', formatMs(span.durationMs)],
    ...(span.status.code === 2 ? [['status', `ERROR ${span.status.message ?? ''}`]] : []),
    ...Object.entries(span.attributes).map(([k, v]) => [k, Array.isArray(v) ? JSON.stringify(v) : String(v)]),
    ...span.events.map((e) => [`event @${formatMs(e.timeMs - span.startMs)}`, e.name]),
  ];
  return `<table class="attrs">${rows.map(([k, v]) => `<tr><td>${esc(k)}</td><td class="mono">${esc(v)}</td></tr>`).join('')}</table>`;
}

export function renderWaterfall(traceId: string, spans: readonly StoredSpan[], summary: TraceSummary | undefined): string {
  const t0 = Math.min(...spans.map((s) => s.startMs));
  const end = Math.max(...spans.map((s) => s.startMs + s.durationMs));
  const total = Math.max(end - t0, 0.001);
  const rows = waterfallRows(spans);
  let waitTotal = 0;
  let handleTotal = 0;

  const html = rows
    .map(({ span, depth }) => {
      const left = ((span.startMs - t0) / total) * 100;
      const width = (span.durationMs / total) * 100;
      const wait = mailboxWaitMs(span);
      const kind = KIND_NAMES[span.kind] ?? 'span';
      const error = span.status.code === 2 ? ' error' : '';
      const tail = span.attributes[ATTR_TAIL] === true;
      let inner = '';
      let title = `${span.name}: ${formatMs(span.durationMs)}`;
      if (wait !== undefined) {
        const handled = typeof span.attributes[ATTR_HANDLE_MS] === 'number' ? (span.attributes[ATTR_HANDLE_MS] as number) : span.durationMs - wait;
        waitTotal += wait;
        handleTotal += handled;
        const waitShare = span.durationMs > 0 ? (wait / span.durationMs) * 100 : 0;
        inner = `<div class="wait" style="width:${pct(waitShare)}" data-wait-ms="${esc(wait)}"></div><div class="handle"></div>`;
        title = `${span.name}: waited ${formatMs(wait)} in the mailbox, then handled in ${formatMs(handled)}`;
      }
      const actor = span.attributes['guildhall.actor.id'];
      const messageKind = span.attributes['guildhall.message.kind'];
      const detail = [typeof messageKind === 'string' ? messageKind : undefined, typeof actor === 'string' ? actor : undefined].filter(Boolean).join(' · ');
      if (tail) title = `slow, recorded by tail capture: ${title}`;
      return `<details class="span${tail ? ' tail' : ''}" data-span-id="${esc(span.spanId)}" data-name="${esc(span.name)}"${wait !== undefined ? ` data-wait-ms="${esc(wait)}"` : ''}${tail ? ' data-tail="true"' : ''}>
<summary title="${esc(title)}"><span class="label" style="padding-left:${depth * 14}px">${esc(span.name)}${tail ? '<span class="tail-badge">slow</span>' : ''}${detail ? `<small>${esc(detail)}</small>` : ''}</span><span class="track"><span class="bar ${esc(kind)}${error}${tail ? ' tail' : ''}" style="left:${pct(left)};width:${pct(width)}">${inner}</span></span><span class="dur">${esc(formatMs(span.durationMs))}</span></summary>
${attributeTable(span)}
</details>`;
    })
    .join('\n');

  const guild = summary?.guild ?? firstAttribute(spans, ATTR_GUILD_ID);
  const fanout = summary?.fanoutSize ?? maxAttribute(spans, ATTR_FANOUT_SIZE);
  const body = `
<div class="summary" id="trace-summary">
  <div><span>Trace</span><code>${esc(traceId)}</code></div>
  <div><span>Root operation</span>${esc(summary?.rootName ?? rows[0]?.span.name ?? '')}</div>
  <div><span>Start (UTC)</span>${esc(formatTime(t0))}</div>
  <div><span>Duration</span>${esc(formatMs(total))}</div>
  <div><span>Spans</span>${esc(spans.length)}${summary && summary.truncatedSpans > 0 ? ` (+${esc(summary.truncatedSpans)} not kept)` : ''}</div>
  <div><span>Guild</span>${guild === undefined ? '-' : `<code>${esc(guild)}</code>`}</div>
  <div><span>Fanout size</span>${fanout === undefined ? '-' : esc(fanout)}</div>
  <div><span>Mailbox wait / handling</span>${esc(formatMs(waitTotal))} / ${esc(formatMs(handleTotal))}</div>
  <div><a class="button" href="/debug/api/traces/${esc(traceId)}/otlp.json" download>Download OTLP JSON</a></div>
</div>
<div class="legend" id="legend">
  <span><i style="background:repeating-linear-gradient(45deg,var(--wait) 0 3px,#ffe8a3 3px 6px)"></i>waiting in a mailbox</span>
  <span><i style="background:var(--handle)"></i>handling (process spans)</span>
  <span><i style="background:var(--span)"></i>other spans (requests, fanout, writes)</span>
  <span><span class="tail-badge">slow</span> recorded by tail capture because it was slow, not sampled</span>
  <span class="muted">Click a span for its attributes. Process spans start when the message was enqueued.</span>
</div>
<div class="wf" id="waterfall">
${html}
</div>`;
  return page({ title: summary?.rootName ?? traceId, body });
}

function firstAttribute(spans: readonly StoredSpan[], key: string): string | undefined {
  for (const s of spans) {
    const v = s.attributes[key];
    if (v !== undefined && v !== null) return String(v);
  }
  return undefined;
}

function maxAttribute(spans: readonly StoredSpan[], key: string): number | undefined {
  let max: number | undefined;
  for (const s of spans) {
    const v = s.attributes[key];
    if (typeof v === 'number' && (max === undefined || v > max)) max = v;
  }
  return max;
}
