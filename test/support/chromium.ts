import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

/**
 * Headless Chromium for the web page's tests: Debian's `chromium` package (installed by
 * scripts/install-chromium.sh, which `make test` runs), or the binary IDR_CHROMIUM names, driven
 * over the DevTools protocol by playwright-core. No browser is downloaded.
 */
export async function launchChromium(): Promise<Browser> {
  const executablePath = process.env['IDR_CHROMIUM'] ?? '/usr/bin/chromium';
  if (!existsSync(executablePath)) throw new Error(`no Chromium at ${executablePath}: run scripts/install-chromium.sh (make test does) or set IDR_CHROMIUM`);
  return chromium.launch({
    executablePath,
    headless: true,
    // Root in CI containers cannot use Chromium's user-namespace sandbox; /dev/shm is small there.
    args: [...(process.getuid?.() === 0 ? ['--no-sandbox'] : []), '--disable-dev-shm-usage', '--disable-gpu', '--font-render-hinting=none'],
  });
}
