// LiveKit's browser SDK (livekit-client) in Debian's headless Chromium, driven by playwright-core: what the
// browser test peers share. `openBrowserPage(log)` serves an empty page with livekit-client's UMD bundle (from
// node_modules) on 127.0.0.1 — a secure context for getUserMedia — and opens it in a fresh Chromium profile;
// the page has `window.LivekitClient`. `close()` disconnects nothing: callers leave their room first.

import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';

const require = createRequire(import.meta.url);

export const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
export const CHROMIUM_ARGS = [
  '--headless=new',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  // Without these, Chromium keeps dialling Google services, which this machine refuses.
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  // A synthetic camera (moving test pattern) and no permission prompt.
  '--use-fake-device-for-media-stream',
  '--use-fake-ui-for-media-stream',
  // WebAudio (a test tone) and media elements start without a click.
  '--autoplay-policy=no-user-gesture-required',
];

/** Serves `/` (an empty page) and `/livekit-client.umd.js` on 127.0.0.1. Resolves to {url, close}. */
async function servePage() {
  // The package's "require" entry point is its self-contained UMD build (global LivekitClient).
  const bundle = readFileSync(require.resolve('livekit-client'));
  const page = '<!doctype html><meta charset="utf-8"><title>P</title>'
    + '<script src="/livekit-client.umd.js"></script>';
  const server = http.createServer((req, res) => {
    if (req.url === '/') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(page);
    } else if (req.url === '/livekit-client.umd.js') {
      res.writeHead(200, { 'content-type': 'text/javascript' }).end(bundle);
    } else {
      res.writeHead(req.url === '/favicon.ico' ? 204 : 404).end();
    }
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  return {
    url: `http://127.0.0.1:${server.address().port}/`,
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}

/**
 * Starts Chromium on the page. `log(...)` gets the page's console; `onError(err)` its uncaught errors.
 * Resolves to {page, chromiumVersion, livekitVersion, close}.
 */
export async function openBrowserPage(log, onError) {
  const { chromium } = await import('playwright-core');
  const site = await servePage();
  const profile = mkdtempSync(path.join(os.tmpdir(), 'colloque-chromium-'));
  let context = null;
  const close = async () => {
    try {
      await Promise.race([
        context?.close() ?? Promise.resolve(),
        new Promise((_, reject) => setTimeout(() => reject(new Error('close Chromium: timed out')), 5000)),
      ]);
    } catch (err) {
      log('close Chromium:', err instanceof Error ? err.message : String(err));
    }
    await site.close();
    rmSync(profile, { recursive: true, force: true });
  };
  try {
    // launchPersistentContext owns --user-data-dir; a fresh temp dir each run.
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: CHROMIUM_ARGS,
      permissions: ['camera', 'microphone'],
    });
    const page = context.pages()[0] ?? (await context.newPage());
    page.on('console', (m) => log('console', m.type(), m.text()));
    page.on('pageerror', onError);
    await page.goto(site.url);
    if (!(await page.evaluate(() => typeof window.LivekitClient?.Room === 'function'))) {
      throw new Error('livekit-client did not load in the page');
    }
    return {
      page,
      chromiumVersion: context.browser()?.version() ?? '?',
      livekitVersion: await page.evaluate(() => window.LivekitClient.version),
      close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}
