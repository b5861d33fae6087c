// The actor top and the viewer's tail marking in a real headless browser.
// A guild whose sessions include a stall (a real actor that holds the thread
// on each MESSAGE_CREATE) makes slow deliveries; a post put in the guild's
// mailbox while the test holds the thread is a slow guild message. Root
// sampling is off, so every trace here is one tail capture made.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Behaviour } from '../../../actors/index.js';
import type { SessionProtocol } from '../../../server/gateway/session-protocol.js';
import type { GuildProtocol } from '../../../server/guild/guild-protocol.js';
import { type Browser, CHROMIUM, chromiumPresent, inCi, launchChromium } from '../../support/chromium.js';
import { type DebugWorld, startDebugWorld } from './debug-world.js';

if (!chromiumPresent && !inCi) console.warn(`[actors-browser] skipped: no Chromium at ${CHROMIUM} (apt-get install chromium, or set CHROMIUM_PATH).`);

const STALL_MS = 40;

function hold(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    // Holding the one thread is the point.
  }
}

describe.skipIf(!chromiumPresent && !inCi)('actor top and tail spans in a headless browser', () => {
  let browser: Browser | undefined;
  let w: DebugWorld | undefined;
  let guildId = '';

  beforeAll(async () => {
    browser = await launchChromium();
    w = await startDebugWorld({ GUILDHALL_SLOW_DELIVERY_MS: '20', GUILDHALL_FANOUT_K: '1' }, { OTEL_TRACES_SAMPLER: 'parentbased_always_off' });
    const alice = await w.user('alice');
    const g = await w.guild(alice.id, []);
    guildId = g.id;
    const { system } = w.server.ctx;
    // The guild's actor, with the stall first in its fanout order, then four real sessions.
    const guild = w.server.ctx.guild(g.id);
    const stall: Behaviour<null, SessionProtocol> = {
      kind: 'session',
      init: () => null,
      handleCast: (msg) => {
        if (msg.type === 'dispatch' && msg.event.event === 'MESSAGE_CREATE') hold(STALL_MS);
      },
    };
    const stallRef = system.spawn(stall, { key: 'session:stall' });
    // The same intents as the test's sessions (MESSAGE_CONTENT among them): one fanout, the stall first in it.
    expect((await guild.call({ type: 'connect', sessionId: 'stall', session: stallRef, userId: alice.id, intents: 0xffff, largeThreshold: 50, presence: undefined })).ok).toBe(true);
    const sessions = await w.sessions(alice.token, 4);
    // A post that waits in the guild's mailbox while the thread is held: a tail root; its broadcast is then traced.
    const post = system.whereis<GuildProtocol>(`guild:${g.id}`)!.call({ type: 'create_message', channelId: g.channelId, authorId: alice.id, content: 'stuck' });
    hold(30);
    expect((await post).ok).toBe(true);
    await Promise.all(sessions.map((c) => c.waitForDispatch('MESSAGE_CREATE', 1)));
    await w.flush();
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await w?.close();
  });

  it('the trace list filters traces holding a tail span and badges them; the waterfall marks tail spans', async () => {
    const page = await browser!.context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));

    await page.goto(`${w!.url}/debug/traces`);
    await page.locator('input[name="tail"]').check();
    await page.locator('form.filters button[type="submit"]').click();
    await page.waitForURL(/tail=1/);
    const rows = page.locator('#traces tbody tr');
    expect(await rows.count()).toBeGreaterThan(0);
    for (const badge of await rows.locator('.tail-badge').allInnerTexts()) expect(badge).toMatch(/^slow ×\d+$/);
    expect(await rows.locator('.tail-badge').count()).toBe(await rows.count());

    // The stuck post's trace: the guild root and the deliveries behind the stall (other guild messages may have waited too).
    const counts = (await rows.locator('.tail-badge').allInnerTexts()).map((b) => Number(b.replace(/\D/g, '')));
    await rows.nth(counts.indexOf(Math.max(...counts))).locator('a').first().click();
    await page.waitForURL(/\/debug\/traces\/[0-9a-f]{32}$/);
    const tail = page.locator('#waterfall details.span.tail');
    // The guild root and the deliveries that waited behind the stall (fanout sampling kept about one).
    expect(await tail.count()).toBeGreaterThanOrEqual(2);
    const tailNames = await tail.evaluateAll((els) => els.map((e) => e.getAttribute('data-name')));
    expect(tailNames).toContain('process guild');
    expect(tailNames).toContain('process session');
    const outline = await tail.first().locator('.bar').evaluate((el) => el.ownerDocument.defaultView!.getComputedStyle(el).outlineStyle);
    expect(outline).toBe('solid');
    expect(await tail.first().locator('summary .tail-badge').innerText()).toBe('slow');
    expect(await page.locator('#legend').innerText()).toContain('recorded by tail capture');
    // Untagged spans carry no mark.
    expect(await page.locator('#waterfall details.span:not(.tail) .tail-badge').count()).toBe(0);
    expect(errors).toEqual([]);
    await page.close();
  }, 60_000);

  it('/debug/actors lists the actors, sorts by a header, refreshes itself and links guilds to their traces', async () => {
    const page = await browser!.context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));

    await page.goto(`${w!.url}/debug/actors`);
    const rows = page.locator('#actors tbody tr');
    // One guild, the stall and four sessions.
    expect(await rows.count()).toBe(6);
    expect(await page.locator('#actors th[aria-sort="descending"]').innerText()).toContain('Busy now');
    // Same order as the JSON API, busiest first; the stall was charged the time it held the thread.
    const api = (await (await fetch(`${w!.url}/debug/api/actors`)).json()) as { actors: { id: string; busyMs: number; busyNow: number }[] };
    expect(await rows.evaluateAll((els) => els.map((e) => e.getAttribute('data-id')))).toEqual(api.actors.map((a) => a.id));
    const busyNow = api.actors.map((a) => a.busyNow);
    expect(busyNow).toEqual([...busyNow].sort((a, b) => b - a));
    expect(api.actors.find((a) => a.id === 'session:stall')!.busyMs).toBeGreaterThanOrEqual(STALL_MS);
    expect(await rows.first().locator('td').nth(2).innerText()).toMatch(/ms\/s$/);
    expect(await rows.first().locator('td').nth(3).innerText()).toMatch(/ms$/);
    // By wait p99, the actors that waited (the guild's stuck post, the sessions behind the stall) lead.
    const byWait = (await (await fetch(`${w!.url}/debug/api/actors?sort=wait_p99`)).json()) as { actors: { waitP99Ms: number }[] };
    expect(byWait.actors[0]!.waitP99Ms).toBeGreaterThanOrEqual(20);

    await page.locator('#actors th a[data-sort="restarts"]').click();
    await page.waitForURL(/sort=restarts/);
    expect(await page.locator('#actors th[aria-sort="descending"]').innerText()).toContain('Restarts');

    // The page refreshes itself from the JSON API (every 3 s).
    await expect.poll(() => page.locator('#actors').getAttribute('data-refreshed'), { timeout: 10_000, interval: 250 }).not.toBeNull();
    expect(await rows.count()).toBe(6);

    const guildRow = page.locator(`#actors tbody tr[data-kind="guild"][data-id="${guildId}"]`);
    expect(await guildRow.locator('a').innerText()).toBe('debugged');
    await guildRow.locator('a').click();
    await page.waitForURL(new RegExp(`/debug/traces\\?guild=${guildId}$`));
    expect(await page.locator('#traces tbody tr').count()).toBeGreaterThan(0);
    expect(errors).toEqual([]);
    await page.close();
  }, 60_000);
});
