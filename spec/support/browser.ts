// Debian's Chromium through playwright-core, for the browser specs. Never downloads a browser:
// when /usr/bin/chromium is missing, `chromiumMissing` says why and the spec skips — except on
// CI (CI=true), where a missing browser must fail the run rather than pass it silently.
import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

export const chromiumPath = '/usr/bin/chromium';

/** Undefined when Chromium can run; otherwise the reason to skip (printed once). Throws on CI. */
export function chromiumMissing(what: string): string | undefined {
  if (existsSync(chromiumPath)) return undefined;
  const reason = `${chromiumPath} not found (apt-get install -y chromium)`;
  if (process.env['CI'] === 'true') throw new Error(`${what} need Chromium on CI: ${reason}`);
  console.log(`# skipping ${what}: ${reason}`);
  return reason;
}

/** Headless Chromium with the project's flags: no sandbox (containers), no background traffic. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: chromiumPath,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}
