// Catching up from a channel's history over REST, as a real client does after
// its session was lost (INVALID_SESSION, then IDENTIFY) or one of its guilds
// came back from an outage: GET /channels/{id}/messages?after=<last seen id>,
// page by page, oldest first. Runs inside a session host (worker thread or
// main), so it is plain fetch: no spans, no histograms of the main thread.
// https://discord.com/developers/docs/resources/message#get-channel-messages
import { sleep } from './clock.js';
import type { NodeRing } from './node-ring.js';

/** Discord's page size limit. */
const PAGE = 100;
/** A catch-up that needs more than this many pages reads no further (a load test's channel is far smaller). */
const MAX_PAGES = 200;
const MAX_ATTEMPTS = 20;
const REQUEST_TIMEOUT_MS = 15_000;

export interface HistoryMessage {
  id: string;
  content: string;
}

/** The larger of two snowflakes (decimal strings). */
export function maxSnowflake(a: string | undefined, b: string): string {
  return a === undefined || BigInt(b) > BigInt(a) ? b : a;
}

/**
 * Reads every message of `channelId` after `afterId` ('0': from the start), oldest page first; calls
 * `onMessage` for each. Retries network errors, 429 and 503 on the next node, a bounded number of
 * times (a GET is safe to repeat). Resolves with the last id read (or `afterId`).
 */
export async function readHistory(ring: NodeRing, token: string, channelId: string, afterId: string, onMessage: (m: HistoryMessage) => void): Promise<string> {
  let after = afterId;
  for (let page = 0; page < MAX_PAGES; page++) {
    const messages = await getPage(ring, token, `/channels/${channelId}/messages?limit=${PAGE}&after=${after}`);
    if (messages.length === 0) return after;
    for (const m of [...messages].sort((a, b) => (BigInt(a.id) < BigInt(b.id) ? -1 : 1))) {
      onMessage(m);
      after = maxSnowflake(after, m.id);
    }
    if (messages.length < PAGE) return after;
  }
  return after;
}

async function getPage(ring: NodeRing, token: string, path: string): Promise<HistoryMessage[]> {
  let lastError = '';
  for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
    const base = ring.next();
    try {
      const res = await fetch(`${base}/api/v10${path}`, { headers: { authorization: `Bot ${token}` }, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
      const text = await res.text();
      if (res.ok) return JSON.parse(text) as HistoryMessage[];
      lastError = `${res.status} ${text.slice(0, 200)}`;
      if (res.status !== 429 && res.status < 500) break;
      const retryAfter = Number(res.headers.get('retry-after'));
      await sleep(Number.isFinite(retryAfter) && retryAfter > 0 ? Math.min(10_000, retryAfter * 1000) : 100 * attempt);
    } catch (err) {
      ring.failed(base);
      lastError = (err as Error).message;
      await sleep(Math.min(2_000, 50 * 2 ** attempt));
    }
  }
  throw new Error(`GET ${path}: ${lastError}`);
}
