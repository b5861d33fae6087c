// Shared bits of the built-in viewer's pages: escaping, the page shell and its
// stylesheet. Pages are rendered on the server and are self-contained (no CDN,
// no build step, no external file): they must work on a laptop with no
// network and inside a locked-down container. Every piece of text that came
// from a span (names, attributes: ultimately user input) goes through esc().
import type { FastifyReply } from 'fastify';

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Escapes text for HTML element content and quoted attribute values. */
export function esc(value: unknown): string {
  return String(value).replace(/[&<>"']/g, (c) => ESCAPES[c]!);
}

/** Milliseconds for people: 0.042 ms, 12.3 ms, 1.52 s. */
export function formatMs(ms: number): string {
  if (!Number.isFinite(ms)) return '-';
  if (ms >= 1000) return `${(ms / 1000).toFixed(2)} s`;
  if (ms >= 10) return `${ms.toFixed(1)} ms`;
  if (ms >= 1) return `${ms.toFixed(2)} ms`;
  return `${ms.toFixed(3)} ms`;
}

export function formatTime(epochMs: number): string {
  return new Date(epochMs).toISOString().replace('T', ' ').replace('Z', '');
}

// Only inline styles and scripts of our own; nothing may be loaded from elsewhere
// (connect-src 'self': the actor top refreshes from this server's JSON API).
const CSP = "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; connect-src 'self'; img-src data:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

const STYLE = `
:root { --fg:#1d2330; --muted:#667085; --line:#e4e7ec; --bg:#fff; --accent:#3b5bdb; --wait:#f59f00; --handle:#2f9e44; --span:#4c6ef5; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg); background: var(--bg); margin: 0; }
header { padding: 12px 20px; border-bottom: 1px solid var(--line); display: flex; gap: 16px; align-items: baseline; }
header h1 { font-size: 17px; margin: 0; }
header a { color: var(--accent); text-decoration: none; }
main { padding: 16px 20px; }
.note { padding: 8px 12px; border-radius: 6px; background: #fff4e6; border: 1px solid #ffd8a8; margin-bottom: 12px; }
.muted { color: var(--muted); }
code, .mono { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 12.5px; }
form.filters { display: flex; gap: 12px; align-items: end; margin-bottom: 14px; flex-wrap: wrap; }
form.filters label { display: flex; flex-direction: column; font-size: 12px; color: var(--muted); gap: 2px; }
form.filters input { font: inherit; padding: 4px 6px; border: 1px solid var(--line); border-radius: 4px; }
button, .button { font: inherit; padding: 4px 10px; border: 1px solid var(--accent); background: var(--accent); color: #fff; border-radius: 4px; cursor: pointer; text-decoration: none; }
table.traces { border-collapse: collapse; width: 100%; }
table.traces th, table.traces td { text-align: left; padding: 6px 10px; border-bottom: 1px solid var(--line); white-space: nowrap; }
table.traces th { font-size: 12px; color: var(--muted); font-weight: 600; }
table.traces td.num, table.traces th.num { text-align: right; }
table.traces a { color: var(--accent); text-decoration: none; }
table.traces th[aria-sort] a { color: var(--fg); }
.summary { display: flex; gap: 24px; flex-wrap: wrap; margin-bottom: 12px; }
.summary div span { display: block; font-size: 12px; color: var(--muted); }
.legend { display: flex; gap: 18px; margin: 8px 0 12px; font-size: 12.5px; align-items: center; }
.legend i { display: inline-block; width: 28px; height: 10px; border-radius: 2px; vertical-align: middle; margin-right: 6px; }
.wf { border-top: 1px solid var(--line); }
.wf details { border-bottom: 1px solid var(--line); }
.wf summary { list-style: none; display: grid; grid-template-columns: minmax(280px, 34%) 1fr 84px; align-items: center; cursor: pointer; padding: 3px 0; }
.wf summary::-webkit-details-marker { display: none; }
.wf summary:hover { background: #f8f9fc; }
.wf .label { overflow: hidden; text-overflow: ellipsis; white-space: nowrap; padding-right: 8px; }
.wf .label small { color: var(--muted); margin-left: 6px; }
.wf .track { position: relative; height: 14px; background: repeating-linear-gradient(90deg, transparent 0 calc(10% - 1px), var(--line) calc(10% - 1px) 10%); }
.wf .bar { position: absolute; top: 1px; height: 12px; min-width: 2px; display: flex; border-radius: 2px; overflow: hidden; background: var(--span); }
.wf .bar.consumer { background: var(--handle); }
.wf .bar .wait { height: 100%; background: repeating-linear-gradient(45deg, var(--wait) 0 3px, #ffe8a3 3px 6px); }
.wf .bar .handle { height: 100%; flex: 1; background: var(--handle); }
.wf .bar.error, .wf .bar.error .handle { background: #e03131; }
.wf .bar.tail { outline: 2px solid #c2255c; outline-offset: 1px; }
.tail-badge { display: inline-block; font-size: 11px; font-weight: 600; color: #fff; background: #c2255c; border-radius: 3px; padding: 0 5px; margin-left: 6px; vertical-align: 1px; }
form.filters label.check { flex-direction: column; align-items: flex-start; }
.wf .dur { text-align: right; font-size: 12px; color: var(--muted); padding-right: 6px; }
.wf .attrs { margin: 4px 0 10px 24px; font-size: 12.5px; }
.wf .attrs td { padding: 1px 10px 1px 0; vertical-align: top; }
.wf .attrs td:first-child { color: var(--muted); }
`;

export interface PageOptions {
  title: string;
  body: string;
  script?: string;
}

export function page({ title, body, script }: PageOptions): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)} · Guildhall traces</title>
<style>${STYLE}</style>
</head>
<body>
<header><h1>Guildhall traces</h1><a href="/debug/traces">all traces</a><a href="/debug/actors">actors</a><a href="/metrics">metrics</a></header>
<main>
${body}
</main>${script ? `\n<script>${script}</script>` : ''}
</body>
</html>
`;
}

/** Sends a rendered page with headers that keep it self-contained. */
export function sendPage(reply: FastifyReply, status: number, html: string): FastifyReply {
  return reply
    .code(status)
    .header('content-security-policy', CSP)
    .header('x-content-type-options', 'nosniff')
    .header('cache-control', 'no-store')
    .type('text/html; charset=utf-8')
    .send(html);
}

/** An error as a page (the HTML routes' counterpart of Discord's JSON error body). */
export function errorPage(status: number, code: number, message: string, detail?: string): string {
  return page({
    title: `${status}`,
    body: `<h2>${esc(status)}: ${esc(message)}</h2><p class="muted">code ${esc(code)}</p>${detail ? `<pre class="mono">${esc(detail)}</pre>` : ''}<p><a href="/debug/traces">Back to the trace list</a></p>`,
  });
}
