// GET /debug/traces: the most recent traces in the built-in store, newest
// first, with the filters the query string carries (guild, minimum duration,
// tail: only traces holding a span that tail capture recorded).
import type { TraceSummary } from '../../tracing/index.js';
import { esc, formatMs, formatTime, page } from './html.js';
import type { TraceListFilters } from './schemas.js';

export interface TraceListView {
  traces: TraceSummary[];
  filters: TraceListFilters;
  /** Whether tracing is on at all (OTEL_SDK_DISABLED=true turns it off). */
  tracingEnabled: boolean;
  /** Whether this server keeps traces for the viewer (off by default when spans go to a collector). */
  recording: boolean;
  /** One line about the sampler and export, from the tracer setup. */
  tracingDescription: string;
  /** Traces held in the store (before filtering). */
  stored: number;
}

export function renderTraceList(view: TraceListView): string {
  const { traces, filters } = view;
  const notes: string[] = [];
  if (!view.tracingEnabled) {
    notes.push(
      '<p class="note" id="tracing-disabled"><strong>Tracing is disabled</strong> (<code>OTEL_SDK_DISABLED=true</code>): no traces are recorded, so this list stays empty. Unset it and restart to see traces here.</p>',
    );
  }
  if (view.tracingEnabled && !view.recording) {
    notes.push(
      '<p class="note" id="viewer-off"><strong>Spans go to your collector</strong>, so this server keeps no copy for this viewer. Look in Jaeger or Tempo, or set <code>GUILDHALL_TRACE_VIEWER=on</code> to keep one here too.</p>',
    );
  }
  const filtersForm = `
<form class="filters" method="get" action="/debug/traces">
  <label>Guild id<input name="guild" inputmode="numeric" pattern="\\d{17,20}" value="${esc(filters.guild ?? '')}" placeholder="any"></label>
  <label>Minimum duration (ms)<input name="min_duration_ms" type="number" min="0" step="any" value="${esc(filters.min_duration_ms ?? '')}" placeholder="0"></label>
  <label class="check"><span>Slow only</span><input name="tail" type="checkbox" value="1"${filters.tail === true ? ' checked' : ''} title="Only traces with a tail-capture span: a slow delivery or a guild message that waited too long"></label>
  <label>Show at most<input name="limit" type="number" min="1" max="1000" value="${esc(filters.limit)}"></label>
  <button type="submit">Filter</button>
  <a href="/debug/traces">clear</a>
  <span class="muted">${esc(view.stored)} traces stored · <a href="/debug/api/traces${esc(queryString(filters))}">JSON</a></span>
</form>`;

  const rows = traces
    .map(
      (t) => `<tr data-trace-id="${esc(t.traceId)}">
  <td><a href="/debug/traces/${esc(t.traceId)}">${esc(t.rootName || '(root not stored)')}</a>${t.tailSpans > 0 ? ` <span class="tail-badge" title="${esc(t.tailSpans)} span(s) recorded because they were slow">slow ×${esc(t.tailSpans)}</span>` : ''}</td>
  <td class="mono">${esc(formatTime(t.start))}</td>
  <td class="num">${esc(formatMs(t.durationMs))}</td>
  <td class="num">${esc(t.spanCount)}${t.truncatedSpans > 0 ? ` <span class="muted">(+${esc(t.truncatedSpans)} not kept)</span>` : ''}</td>
  <td class="mono">${t.guild === undefined ? '<span class="muted">-</span>' : `<a href="/debug/traces?guild=${esc(encodeURIComponent(t.guild))}">${esc(t.guild)}</a>`}</td>
  <td class="num">${t.fanoutSize === undefined ? '<span class="muted">-</span>' : esc(t.fanoutSize)}</td>
</tr>`,
    )
    .join('\n');
  const table =
    traces.length === 0
      ? `<p class="muted" id="no-traces">No traces${filters.guild !== undefined || filters.min_duration_ms !== undefined || filters.tail === true ? ' match these filters' : ' yet'}.</p>`
      : `<table class="traces" id="traces">
<thead><tr><th>Root operation</th><th>Start (UTC)</th><th class="num">Duration</th><th class="num">Spans</th><th>Guild</th><th class="num">Fanout size</th></tr></thead>
<tbody>
${rows}
</tbody>
</table>`;

  return page({
    title: 'Traces',
    body: `${notes.join('\n')}
<p class="muted">${esc(view.tracingDescription)}</p>
${filtersForm}
${table}`,
  });
}

export function queryString(filters: TraceListFilters): string {
  const q = new URLSearchParams();
  if (filters.guild !== undefined) q.set('guild', filters.guild);
  if (filters.min_duration_ms !== undefined) q.set('min_duration_ms', String(filters.min_duration_ms));
  if (filters.tail === true) q.set('tail', '1');
  q.set('limit', String(filters.limit));
  return `?${q.toString()}`;
}
