// Headless Chromium for page tests (playwright-core driving the system's
// Chromium, as test/server/debug/viewer-browser.test.ts does). In CI
// (CI=true) a missing browser is a failure; elsewhere tests skip with a note.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type BrowserContext, chromium } from 'playwright-core';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const chromiumPresent = existsSync(CHROMIUM);
export const inCi = process.env.CI === 'true' || process.env.CI === '1';

export interface Browser {
  context: BrowserContext;
  close(): Promise<void>;
}

export async function launchChromium(): Promise<Browser> {
  if (!chromiumPresent) throw new Error(`CI=true but Chromium is missing at ${CHROMIUM}: .ci/run installs it (apt-get install -y --no-install-recommends chromium)`);
  const profile = mkdtempSync(join(tmpdir(), 'guildhall-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    viewport: { width: 1280, height: 760 },
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  return {
    context,
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}
