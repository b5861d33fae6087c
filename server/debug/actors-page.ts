// GET /debug/actors: the actor top as a page. Rendered on the server (it works
// without JavaScript), then refreshed in place every few seconds from the JSON
// API with the same sort and filters. Column headers sort (descending).
import type { ActorTop, ActorTopRow } from './actor-top.js';
import { esc, formatMs, page } from './html.js';
import type { ActorSort, ActorTopQuery } from './schemas.js';

export const REFRESH_MS = 3000;

const COLUMNS: { label: string; sort?: ActorSort; num?: boolean; title: string }[] = [
  { label: 'Kind', title: 'Actor kind' },
  { label: 'Actor', title: 'Guild name and id, or the actor id' },
  { label: 'Busy now', sort: 'now', num: true, title: 'Time spent handling per second right now (each older second counts half)' },
  { label: 'Busy', sort: 'busy', num: true, title: 'Time spent handling messages over the last minute' },
  { label: 'Mailbox', sort: 'depth', num: true, title: 'Messages waiting now' },
  { label: 'Oldest waiting', sort: 'oldest', num: true, title: 'Age of the oldest waiting message' },
  { label: 'Handled/s', sort: 'rate', num: true, title: 'Messages handled per second over the last minute' },
  { label: 'Wait p99', sort: 'wait_p99', num: true, title: '99th percentile of mailbox wait over the last minute (bin upper bound)' },
  { label: 'Restarts', sort: 'restarts', num: true, title: 'Restarts after a crash' },
];

function href(query: ActorTopQuery, sort: ActorSort): string {
  const q = new URLSearchParams({ sort, limit: String(query.limit) });
  if (query.kind !== undefined) q.set('kind', query.kind);
  return `/debug/actors?${q.toString()}`;
}

export function actorRow(r: ActorTopRow): string {
  const who =
    r.traces !== undefined
      ? `<a href="${esc(r.traces)}" title="Recent traces of this guild">${esc(r.name ?? r.id)}</a> <span class="muted mono">${esc(r.id)}</span>`
      : `<span class="mono">${esc(r.id)}</span>`;
  return `<tr data-kind="${esc(r.kind)}" data-id="${esc(r.id)}">
  <td>${esc(r.kind)}</td>
  <td>${who}</td>
  <td class="num">${esc(formatMs(r.busyNow))}/s</td>
  <td class="num">${esc(formatMs(r.busyMs))}</td>
  <td class="num">${esc(r.depth)}</td>
  <td class="num">${esc(r.depth === 0 ? '-' : formatMs(r.oldestWaitMs))}</td>
  <td class="num">${esc(r.perSecond.toFixed(1))}</td>
  <td class="num">${esc(r.handled === 0 ? '-' : formatMs(r.waitP99Ms))}</td>
  <td class="num">${esc(r.restarts)}</td>
</tr>`;
}

export function renderActorTop(top: ActorTop, query: ActorTopQuery): string {
  const head = COLUMNS.map((c) => {
    const cls = c.num ? ' class="num"' : '';
    if (c.sort === undefined) return `<th${cls} title="${esc(c.title)}">${esc(c.label)}</th>`;
    const active = c.sort === top.sort ? ' aria-sort="descending"' : '';
    return `<th${cls}${active} title="${esc(c.title)}"><a href="${esc(href(query, c.sort))}" data-sort="${esc(c.sort)}">${esc(c.label)}${c.sort === top.sort ? ' ▼' : ''}</a></th>`;
  }).join('');
  const api = new URLSearchParams({ sort: top.sort, limit: String(query.limit) });
  if (query.kind !== undefined) api.set('kind', query.kind);
  const body = `
<p class="muted" id="actors-note"><span id="running">${esc(top.running)}</span> actors running · rates and p99 over the last ${esc(top.windowSeconds)} s · refreshes every ${esc(REFRESH_MS / 1000)} s · <a href="/debug/api/actors?${esc(api.toString())}">JSON</a></p>
<table class="traces" id="actors" data-api="/debug/api/actors?${esc(api.toString())}">
<thead><tr>${head}</tr></thead>
<tbody>
${top.actors.map(actorRow).join('\n')}
</tbody>
</table>`;
  return page({ title: 'Actors', body, script: REFRESH_SCRIPT });
}

// Same markup as actorRow(), built in the browser from the JSON rows.
const REFRESH_SCRIPT = `
(function () {
  var table = document.getElementById('actors');
  var esc = function (v) { return String(v).replace(/[&<>"']/g, function (c) { return ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]; }); };
  var ms = function (v) { return v >= 1000 ? (v / 1000).toFixed(2) + ' s' : v >= 10 ? v.toFixed(1) + ' ms' : v >= 1 ? v.toFixed(2) + ' ms' : v.toFixed(3) + ' ms'; };
  function row(r) {
    var who = r.traces !== undefined
      ? '<a href="' + esc(r.traces) + '" title="Recent traces of this guild">' + esc(r.name !== undefined ? r.name : r.id) + '</a> <span class="muted mono">' + esc(r.id) + '</span>'
      : '<span class="mono">' + esc(r.id) + '</span>';
    return '<tr data-kind="' + esc(r.kind) + '" data-id="' + esc(r.id) + '"><td>' + esc(r.kind) + '</td><td>' + who + '</td><td class="num">' + esc(ms(r.busyNow)) + '/s</td><td class="num">' + esc(ms(r.busyMs)) + '</td><td class="num">' + esc(r.depth) +
      '</td><td class="num">' + (r.depth === 0 ? '-' : esc(ms(r.oldestWaitMs))) + '</td><td class="num">' + esc(r.perSecond.toFixed(1)) +
      '</td><td class="num">' + (r.handled === 0 ? '-' : esc(ms(r.waitP99Ms))) + '</td><td class="num">' + esc(r.restarts) + '</td></tr>';
  }
  function refresh() {
    fetch(table.dataset.api, { headers: { accept: 'application/json' } })
      .then(function (res) { return res.ok ? res.json() : null; })
      .then(function (top) {
        if (!top) return;
        table.tBodies[0].innerHTML = top.actors.map(row).join('');
        document.getElementById('running').textContent = String(top.running);
        table.dataset.refreshed = String(Date.now());
      })
      .catch(function () {});
  }
  setInterval(refresh, ${REFRESH_MS});
})();
`;
