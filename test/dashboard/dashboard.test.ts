import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium, openPage, OUTPUT_DIR, screenshot, seriousAxeViolations, type OpenedPage, type PageRecord } from '../helpers/browser.ts';
import { ROOT_PASSWORD, startTestGateway, type TestGateway } from '../helpers/gateway.ts';
import { createUser, gql, rootSession } from '../helpers/graphql.ts';

/** Network noise Chromium logs as console errors while a test has cut the gateway away on purpose. */
const OUTAGE_NOISE = /WebSocket connection to .* failed|net::ERR_CONNECTION_(REFUSED|RESET|CLOSED)|Failed to load resource/;

async function signIn(page: Page, username: string, password: string): Promise<void> {
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

async function expectLive(page: Page, timeout = 10_000): Promise<void> {
  await page.locator('#connection[data-state="live"]').waitFor({ timeout });
}

/** The checks every test ends with: nothing left 127.0.0.1, no console errors, no serious axe findings. */
async function finish(opened: OpenedPage, name: string, allowed?: RegExp): Promise<void> {
  const { page, record } = opened;
  await screenshot(page, name);
  const violations = await seriousAxeViolations(page);
  expect(violations, JSON.stringify(violations, null, 2)).toEqual([]);
  expect(record.external).toEqual([]);
  expect(record.errors.filter((text) => !allowed?.test(text))).toEqual([]);
  await opened.context.close();
}

function bytes(record: PageRecord): number {
  return record.transferred.reduce((sum, entry) => sum + entry.bytes, 0);
}

describe('dashboard in a real browser', () => {
  let gw: TestGateway;
  let browser: Browser;
  let rootToken: string;

  beforeAll(async () => {
    [gw, browser] = await Promise.all([startTestGateway('production'), launchChromium()]);
    rootToken = await rootSession(gw, ROOT_PASSWORD);
  });
  afterAll(async () => {
    await browser?.close();
    await gw?.close();
  });

  it('lets an admin sign in with the keyboard, shows every view, keeps the session for the tab, and signs out', async () => {
    const opened = await openPage(browser);
    const { page, record } = opened;
    await page.goto(`${gw.url}/dashboard/`);
    await page.locator('#signin-username:focus').waitFor();
    await page.keyboard.type('root');
    await page.keyboard.press('Tab');
    await page.keyboard.type(ROOT_PASSWORD);
    await page.keyboard.press('Enter');
    await expectLive(page);
    await expect.poll(() => page.locator('#who-name').textContent()).toBe('root');
    const nav = page.getByRole('navigation', { name: 'Views' });
    for (const name of ['Statistics', 'Call log', 'Notifications', 'Mail delivery']) await expect.poll(() => nav.getByRole('link', { name }).isVisible()).toBe(true);
    await expect.poll(() => page.locator('#stats-view').isVisible()).toBe(true);
    await page.waitForLoadState('networkidle');
    const firstLoad = bytes(record);
    await mkdirAndWrite('first-load.json', { bytes: firstLoad, responses: record.transferred });
    expect(firstLoad).toBeLessThan(150_000);
    await screenshot(page, 'admin-statistics');

    // A reload keeps the tab's session.
    await page.reload();
    await expectLive(page);
    expect(await page.locator('#who-name').textContent()).toBe('root');

    await page.getByRole('button', { name: 'Sign out' }).click();
    await expect.poll(() => page.locator('#signin-view').isVisible()).toBe(true);
    expect(await page.evaluate('sessionStorage.length')).toBe(0);
    expect(await page.locator('#connection').getAttribute('data-state')).toBe('offline');
    await finish(opened, 'admin-signed-out');
  });

  it('says clearly when the password is wrong and when sign-in is rate limited', async () => {
    const user = await createUser(gw, rootToken);
    await gql(gw, 'mutation { updateSettings(input: { signinAccountLimit: 2 }) { __typename } }', {}, rootToken);
    const opened = await openPage(browser);
    const { page } = opened;
    await page.goto(`${gw.url}/dashboard/`);
    const message = page.getByRole('alert');
    await signIn(page, user.name, 'not the password');
    await expect.poll(() => message.textContent()).toBe('Wrong username or password.');
    await signIn(page, user.name, 'not the password');
    await expect.poll(() => message.textContent()).toBe('Wrong username or password.');
    await signIn(page, user.name, 'not the password either');
    await expect.poll(() => message.textContent()).toMatch(/^Too many sign-in attempts\. Try again in \d+ (seconds|minutes)\.$/);
    await gql(gw, 'mutation { updateSettings(input: { signinAccountLimit: 10 }) { __typename } }', {}, rootToken);
    await finish(opened, 'sign-in-refused');
  });

  it('is readable at phone width', async () => {
    const opened = await openPage(browser, '127.0.0.1', { width: 375, height: 740 });
    const { page } = opened;
    await page.goto(`${gw.url}/dashboard/`);
    await signIn(page, 'root', ROOT_PASSWORD);
    await expectLive(page);
    for (const view of ['stats', 'calls', 'notifications', 'outbox']) {
      await page.goto(`${gw.url}/dashboard/#${view}`);
      await page.locator(`#${view}-view`).waitFor();
      // Nothing but the tables' own scrolling boxes is wider than the screen.
      expect(await page.evaluate('document.documentElement.scrollWidth')).toBeLessThanOrEqual(375);
    }
    await finish(opened, 'phone-width');
  });
});

async function mkdirAndWrite(name: string, value: unknown): Promise<void> {
  await writeFile(path.join(OUTPUT_DIR, name), JSON.stringify(value, null, 2));
}

export { OUTAGE_NOISE };
