import { mkdir, readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';

/** Debian's Chromium; never a downloaded browser (`.ci/run` installs the package when missing). */
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** Without the background-networking flags Chromium keeps trying to reach the internet. */
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** Where the browser tests put their screenshots (gitignored). */
export const OUTPUT_DIR = path.resolve('test-output/dashboard');

/**
 * Starts headless Chromium. Playwright gives every launch a fresh, empty profile directory
 * (`--user-data-dir` in a temporary folder it removes on close), so no state survives a run.
 */
export async function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
}

/** What a page did that a test asserts on afterwards. */
export interface PageRecord {
  /** Console errors and uncaught exceptions, as text. */
  readonly errors: string[];
  /** Requests (HTTP and WebSocket) to anywhere but the gateway's host; HTTP ones were refused. */
  readonly external: string[];
  /** Every WebSocket the page opened. */
  readonly sockets: string[];
  /** Bytes received for each finished response (headers and body as transferred). */
  readonly transferred: { url: string; bytes: number }[];
}

export interface OpenedPage {
  readonly context: BrowserContext;
  readonly page: Page;
  readonly record: PageRecord;
}

/**
 * A new browser context (its own storage, so its own dashboard session) with one page that
 * records console errors and refuses every request that would leave `allowedHost`.
 */
export async function openPage(browser: Browser, allowedHost = '127.0.0.1', viewport = { width: 1280, height: 900 }): Promise<OpenedPage> {
  const context = await browser.newContext({ viewport, serviceWorkers: 'block' });
  const record: PageRecord = { errors: [], external: [], sockets: [], transferred: [] };
  await context.route('**/*', async (route) => {
    const url = new URL(route.request().url());
    if (url.hostname === allowedHost || url.protocol === 'data:') {
      await route.continue();
      return;
    }
    record.external.push(url.href);
    await route.abort('blockedbyclient');
  });
  const page = await context.newPage();
  // Fail a step with its locator's name well before the test's own timeout.
  page.setDefaultTimeout(10_000);
  page.on('console', (message) => {
    if (message.type() === 'error') record.errors.push(`console: ${message.text()}`);
  });
  page.on('pageerror', (error) => record.errors.push(`page error: ${error.message}`));
  page.on('websocket', (socket) => {
    record.sockets.push(socket.url());
    if (new URL(socket.url()).hostname !== allowedHost) record.external.push(socket.url());
  });
  page.on('requestfinished', (request) => {
    void request.sizes().then(
      (sizes) => record.transferred.push({ url: request.url(), bytes: sizes.responseHeadersSize + sizes.responseBodySize }),
      () => {},
    );
  });
  return { context, page, record };
}

let axeSource: Promise<string> | undefined;

export interface AxeViolation {
  readonly id: string;
  readonly impact: string | null;
  readonly help: string;
  readonly nodes: string[];
}

/**
 * Runs axe-core in the page and returns the serious and critical violations. The script is
 * evaluated through the DevTools protocol, which the page's CSP does not govern, so the CSP
 * under test stays as strict as it is in production.
 */
export async function seriousAxeViolations(page: Page): Promise<AxeViolation[]> {
  axeSource ??= readFile(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
  const source = await axeSource;
  await page.evaluate(`${source}\n;void 0`);
  // A string, not a function: the tests' TypeScript has no DOM types.
  const violations = await page.evaluate<AxeViolation[]>(`axe.run(document, { resultTypes: ['violations'] }).then((result) =>
    result.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => JSON.stringify(n.target)) })))`);
  return violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
}

/** Saves a full-page PNG as test-output/dashboard/<name>.png and returns its path. */
export async function screenshot(page: Page, name: string): Promise<string> {
  await mkdir(OUTPUT_DIR, { recursive: true });
  const file = path.join(OUTPUT_DIR, `${name.replace(/[^\w.-]+/g, '-')}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}
