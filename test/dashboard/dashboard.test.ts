import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium, openPage, OUTPUT_DIR, screenshot, seriousAxeViolations, type OpenedPage, type PageRecord } from '../helpers/browser.ts';
import { ROOT_PASSWORD, startTestGateway, type TestGateway } from '../helpers/gateway.ts';
import { createUser, gql, gqlWs, ok, rootSession, type CreatedUser } from '../helpers/graphql.ts';
import { configureMail, MAIL_TEST_ENV, smtpUrlOf, uniqueAddress, waitForStatus } from '../helpers/mail.ts';
import { TestSmtp } from '../helpers/smtp.ts';
import { TcpProxy } from '../helpers/tcp-proxy.ts';

/** The test gateway's statistics tick (10 s by default). */
const STATS_TICK_MS = 1000;

/** Network noise Chromium logs as console errors while a test has cut the gateway away on purpose. */
const OUTAGE_NOISE = /WebSocket connection to .* failed|net::ERR_CONNECTION_(REFUSED|RESET|CLOSED)|Failed to load resource/;

/** Polls until the value matches; generous, since CI machines run several suites at once. */
function eventually<T>(probe: () => Promise<T> | T, timeout = 8000) {
  return expect.poll(probe, { timeout, interval: 50 });
}

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
  let smtp: TestSmtp;
  /** Recipients the test SMTP server refuses for good while this is on. */
  let bouncing = true;

  beforeAll(async () => {
    smtp = await TestSmtp.start({
      users: { mailer: 'smtp-secret' },
      rejectRecipient: (address) => (bouncing && address.startsWith('bounce-') ? { code: 550, message: 'No such user here' } : null),
    });
    [gw, browser] = await Promise.all([
      // Statistics every second instead of every 10 s; the 30-day window keeps its minute.
      startTestGateway('production', {
        env: { SMTP_URL: smtpUrlOf(smtp), ...MAIL_TEST_ENV },
        callLog: { flushIntervalMs: 200, statsRefreshMs: { lastHour: STATS_TICK_MS } },
      }),
      launchChromium(),
    ]);
    rootToken = await rootSession(gw, ROOT_PASSWORD);
    await configureMail(gw, rootToken);
  });
  afterAll(async () => {
    await browser?.close();
    await gw?.close();
    await smtp?.stop();
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
    await eventually(() => page.locator('#who-name').textContent()).toBe('root');
    const nav = page.getByRole('navigation', { name: 'Views' });
    for (const name of ['Statistics', 'Call log', 'Notifications', 'Mail delivery']) await eventually(() => nav.getByRole('link', { name }).isVisible()).toBe(true);
    await eventually(() => page.locator('#stats-view').isVisible()).toBe(true);
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
    await eventually(() => page.locator('#signin-view').isVisible()).toBe(true);
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
    await eventually(() => message.textContent()).toBe('Wrong username or password.');
    await signIn(page, user.name, 'not the password');
    await eventually(() => message.textContent()).toBe('Wrong username or password.');
    await signIn(page, user.name, 'not the password either');
    await eventually(() => message.textContent()).toMatch(/^Too many sign-in attempts\. Try again in \d+ (seconds|minutes)\.$/);
    await gql(gw, 'mutation { updateSettings(input: { signinAccountLimit: 10 }) { __typename } }', {}, rootToken);
    await finish(opened, 'sign-in-refused');
  });

  it('shows a plain user only their inbox, and the API refuses them the admin fields anyway', async () => {
    const user = await createUser(gw, rootToken);
    const opened = await openPage(browser);
    const { page } = opened;
    await page.goto(`${gw.url}/dashboard/#stats`);
    await signIn(page, user.name, user.password);
    await expectLive(page);
    await eventually(() => page.locator('#notifications-view').isVisible()).toBe(true);
    const nav = page.getByRole('navigation', { name: 'Views' });
    expect(await nav.getByRole('link').allTextContents()).toEqual([expect.stringMatching(/^Notifications/)]);
    for (const view of ['stats', 'calls', 'outbox']) {
      await page.goto(`${gw.url}/dashboard/#${view}`);
      await eventually(() => page.locator('#notifications-view').isVisible()).toBe(true);
      expect(await page.locator(`#${view}-view`).isVisible()).toBe(false);
    }
    expect(await page.locator('#send-section').isVisible()).toBe(false);

    // The page hid the views; the gateway refuses the data behind them to this user's own token.
    const token = (await page.evaluate('sessionStorage.getItem("gateway-dashboard.token")')) as string;
    for (const query of [
      'query { apiStats { lastUpdated } }',
      'query { apiCallLog(first: 1) { totalCount } }',
      'query { outbox(first: 1) { totalCount } }',
      'query { suggestUsers(search: "r") { id } }',
      `mutation { sendNotification(input: { userIds: ["${user.id}"], subject: "s", body: "b" }) { __typename } }`,
      'mutation { retryOutboxMessage(id: "1") { __typename } }',
    ]) {
      const result = await gql(gw, query, {}, token);
      expect(result.errors?.[0]?.extensions.code, query).toBe('FORBIDDEN');
    }
    const [refused] = await gqlWs(gw, 'subscription { apiStats { lastUpdated } }', {}, token);
    expect(refused?.errors?.[0]?.extensions.code).toBe('FORBIDDEN');
    await screenshot(page, 'plain-user');

    // The session ends elsewhere: the gateway closes the page's WebSocket (4403) and the page says so.
    ok(await gql(gw, 'mutation { signOut { __typename } }', {}, token));
    await page.locator('#signin-view').waitFor();
    await eventually(() => page.getByRole('alert').textContent()).toBe('Your session has ended. Please sign in again.');
    expect(await page.evaluate('sessionStorage.length')).toBe(0);
    await finish(opened, 'plain-user-session-ended');
  });

  it('raises the badge and shows notifications sent from another session live, and after a dropped WebSocket shows those sent meanwhile once', async () => {
    const user = await createUser(gw, rootToken);
    // The user's page reaches the gateway through a proxy the test can cut.
    const proxy = new TcpProxy({ host: '127.0.0.1', port: gw.gateway.port });
    await proxy.start();
    const reader = await openPage(browser);
    const admin = await openPage(browser);
    try {
      const page = reader.page;
      await page.goto(`http://127.0.0.1:${proxy.port}/dashboard/`);
      await signIn(page, user.name, user.password);
      await expectLive(page);
      // Signing in is itself a notification ("New sign-in"); everything below counts from there.
      await eventually(() => items(page, 'New sign-in')).toBe(1);
      const badge = async () => Number(await page.locator('#badge-count').textContent());
      await eventually(badge).toBe(1);

      // The admin picks the user from the suggestions and sends one.
      await admin.page.goto(`${gw.url}/dashboard/#notifications`);
      await signIn(admin.page, 'root', ROOT_PASSWORD);
      await expectLive(admin.page);
      await sendFromForm(admin.page, user, 'First news', 'Hello from the admin');
      await eventually(badge).toBe(2);
      await eventually(() => items(page, 'First news')).toBe(1);

      await proxy.stop();
      await page.locator('#connection[data-state="reconnecting"], #connection[data-state="offline"]').waitFor({ timeout: 5000 });
      expect(await page.locator('#connection-text').textContent()).toMatch(/reconnecting|offline/);
      await screenshot(page, 'notifications-reconnecting');
      for (const subject of ['Sent while away 1', 'Sent while away 2']) {
        const sent = await gql(gw, `mutation($input: SendNotificationInput!) { sendNotification(input: $input) { __typename } }`, { input: { userIds: [user.id], subject, body: 'meanwhile' } }, rootToken);
        expect(sent.data).toEqual({ sendNotification: { __typename: 'SendNotificationPayload' } });
      }
      await proxy.start();
      await expectLive(page, 15_000);
      await eventually(badge).toBe(4);
      await eventually(() => items(page, 'Sent while away 1')).toBe(1);
      expect(await items(page, 'Sent while away 2')).toBe(1);
      expect(await items(page, 'First news')).toBe(1);
      expect(await page.locator('#notification-list > li').count()).toBe(4);
      await screenshot(page, 'notifications-after-reconnect');

      // Read, unread, delete, all read: the badge follows.
      const first = page.locator('#notification-list > li', { hasText: 'First news' });
      await first.getByRole('button', { name: 'Mark read' }).click();
      await eventually(badge).toBe(3);
      await first.getByRole('button', { name: 'Mark unread' }).click();
      await eventually(badge).toBe(4);
      await page.locator('#notification-list > li', { hasText: 'Sent while away 2' }).getByRole('button', { name: 'Delete' }).click();
      await eventually(() => page.locator('#notification-list > li').count()).toBe(3);
      await eventually(badge).toBe(3);
      await page.getByRole('button', { name: 'Mark all read' }).click();
      await eventually(badge).toBe(0);
      expect(await page.locator('#notification-list > li.unread').count()).toBe(0);
      await finish(reader, 'notifications-reader', OUTAGE_NOISE);
      await finish(admin, 'notifications-sender');
    } finally {
      await proxy.stop();
      await reader.context.close().catch(() => {});
      await admin.context.close().catch(() => {});
    }
  });

  it('shows calls made by the test in their method row within one statistics tick, with charts and the call log', async () => {
    const opened = await openPage(browser);
    const { page } = opened;
    await page.goto(`${gw.url}/dashboard/#stats`);
    await signIn(page, 'root', ROOT_PASSWORD);
    await expectLive(page);
    await page.locator('#stats-updated[datetime]').waitFor();
    const calls = 3;
    for (let i = 0; i < calls; i++) ok(await gql(gw, 'query { apiTokens(first: 1) { totalCount } }', {}, rootToken));
    const row = page.locator('#stats-rows tr[data-method="graphql/query/apiTokens"]');
    // One flush (200 ms) and one tick (1 s) of the test gateway, with room for a loaded machine.
    const ONE_TICK = 3 * STATS_TICK_MS + 2000;
    await row.waitFor({ timeout: ONE_TICK });
    await eventually(() => row.locator('[data-col="calls"]').textContent(), ONE_TICK).toBe(String(calls));
    expect(await row.locator('[data-col="errorRate"]').textContent()).toBe('0.0');
    expect(await row.locator('svg.spark').count()).toBe(1);

    // Sorting by a column works from the keyboard and says so to assistive technology.
    await page.getByRole('button', { name: 'Calls', exact: true }).focus();
    await page.keyboard.press('Enter');
    expect(await page.locator('th:has(button[data-sort="calls"])').getAttribute('aria-sort')).toBe('descending');

    await row.getByRole('button').click();
    await page.locator('#method-detail').waitFor();
    expect(await page.locator('#detail-title').textContent()).toBe('graphql/query/apiTokens');
    for (const chart of ['hour-calls', 'hour-latency', 'month-calls', 'month-latency']) {
      await page.locator(`#chart-${chart} canvas`).waitFor();
    }
    await page.locator('#month-status time').waitFor();
    await screenshot(page, 'statistics-method-charts');

    // The call log shows those calls, filtered by method, user and outcome.
    await page.getByRole('link', { name: 'Call log' }).click();
    await page.getByLabel('Method').fill('graphql/query/apiTokens');
    await page.getByLabel('User (name or id)').fill('root');
    await page.getByRole('button', { name: 'Show' }).click();
    await eventually(() => page.locator('#calls-rows tr').count()).toBe(calls);
    expect(await page.locator('#calls-rows tr[data-outcome="OK"]').count()).toBe(calls);
    await page.getByLabel('Outcome').selectOption('DECLINED');
    await page.getByRole('button', { name: 'Show' }).click();
    await eventually(() => page.locator('#calls-message').textContent()).toBe('0 calls match.');
    await finish(opened, 'call-log');
  });

  it('shows the mail outbox by status with attempts and the last reply, and retries a failed message', async () => {
    const email = uniqueAddress('bounce');
    const user = await createUser(gw, rootToken, { email });
    ok(await gql(gw, 'mutation($user: String!) { sendConfirmationEmail(user: $user) { __typename } }', { user: user.name }));
    await waitForStatus(gw, email, 'failed');

    const opened = await openPage(browser);
    const { page } = opened;
    await page.goto(`${gw.url}/dashboard/#outbox`);
    await signIn(page, 'root', ROOT_PASSWORD);
    await expectLive(page);
    await page.getByRole('checkbox', { name: /failed/ }).check();
    await page.getByLabel('Recipient contains').fill(email.slice(0, 14));
    await page.getByRole('button', { name: 'Show' }).click();
    const row = page.locator('#outbox-rows tr', { hasText: email });
    await eventually(() => row.getAttribute('data-status')).toBe('FAILED');
    expect(Number(await row.locator('td.num').textContent())).toBeGreaterThanOrEqual(1);
    expect(await row.locator('td.reply').textContent()).toContain('550');
    expect(await page.locator('#outbox-status-failed-count').textContent()).toMatch(/^\(\d+\)$/);
    await screenshot(page, 'outbox-failed');

    bouncing = false;
    await row.getByRole('button', { name: `Retry the message to ${email}` }).click();
    await eventually(() => page.locator('#outbox-message').textContent()).toBe(`The message to ${email} is queued again.`);
    await waitForStatus(gw, email, 'sent');
    await page.getByRole('checkbox', { name: /failed/ }).uncheck();
    await page.getByRole('button', { name: 'Show' }).click();
    await eventually(() => row.getAttribute('data-status')).toBe('SENT');
    expect(await row.getByRole('button').count()).toBe(0);
    await finish(opened, 'outbox');
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

async function items(page: Page, subject: string): Promise<number> {
  return page.locator('#notification-list > li h3', { hasText: subject }).count();
}

/** Sends a notification with the admin form, choosing the recipient from the suggestions. */
async function sendFromForm(page: Page, user: CreatedUser, subject: string, body: string): Promise<void> {
  const to = page.getByLabel('Recipients', { exact: true });
  await to.click();
  await to.pressSequentially(user.name.slice(0, 6));
  await page.locator(`#send-suggestions option[value="${user.name}"]`).waitFor({ state: 'attached' });
  await to.fill(user.name);
  await to.press('Enter');
  await page.locator('#send-recipients li', { hasText: user.name }).waitFor();
  await page.getByLabel('Subject').fill(subject);
  await page.getByLabel('Message').fill(body);
  await page.getByRole('button', { name: 'Send', exact: true }).click();
  await eventually(() => page.locator('#send-message').textContent()).toBe('Sent to 1 user.');
}

async function mkdirAndWrite(name: string, value: unknown): Promise<void> {
  await mkdir(OUTPUT_DIR, { recursive: true });
  await writeFile(path.join(OUTPUT_DIR, name), JSON.stringify(value, null, 2));
}

