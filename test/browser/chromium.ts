/**
 * A real headless Chromium for the browser tests: Debian's package (scripts/install-chromium.sh, run by .ci/run),
 * driven by playwright-core, which never downloads a browser of its own. `launchChromium()` returns null, with the
 * reason, when no browser is installed, so a test can skip with a clear message instead of failing.
 */
import fs from 'node:fs';
import path from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { REPO_ROOT } from '../paths.ts';

/** Where screenshots go (gitignored): test-output/browser/. */
export const SCREENSHOT_DIR = path.join(REPO_ROOT, 'test-output', 'browser');

/** $CHROMIUM_PATH when set (the only place then looked at), else where Debian and others install it. */
const CANDIDATES = process.env.CHROMIUM_PATH ? [process.env.CHROMIUM_PATH] : ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'];

export function findChromium(): string | null {
  return CANDIDATES.find((p) => fs.existsSync(p)) ?? null;
}

/** Why the browser tests skip, or null when they can run. */
export const NO_BROWSER = findChromium() === null
  ? `no Chromium found (looked at ${CANDIDATES.join(', ')}); run scripts/install-chromium.sh (as root: apt-get install chromium)`
  : null;
if (NO_BROWSER) console.warn(`browser tests skipped: ${NO_BROWSER}`);

/**
 * Headless Chromium with the flags this closed network needs (no background connections, no QUIC, no sandbox as
 * root) and a fresh profile.
 */
export async function launchChromium(): Promise<Browser> {
  const executablePath = findChromium();
  if (!executablePath) throw new Error(NO_BROWSER!);
  return chromium.launch({
    executablePath,
    headless: true,
    args: ['--no-sandbox', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'],
  });
}

export function screenshotPath(name: string): string {
  fs.mkdirSync(SCREENSHOT_DIR, { recursive: true });
  return path.join(SCREENSHOT_DIR, name);
}
