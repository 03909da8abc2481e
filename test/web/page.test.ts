// The operator's page in a real browser (Debian chromium through
// playwright-core): a relay listening on loopback with renewals written
// through /write and a target that is down. The page must show the overdue
// certificate as overdue, draw the per-host chart, and show the target's
// backlog and error. The screenshot is kept in test-artifacts/; with
// CERTRELAY_UPDATE_SCREENSHOT=1 it also replaces docs/web-page.png (the README's).
import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser } from 'playwright-core';
import t, { type Test } from 'tap';
import type { Relay } from '../../src/app.js';
import { until } from '../support/fake-target.js';
import { relayFor } from '../support/relay.js';

const DAY_MS = 86_400_000;
const PROJECT_ROOT = fileURLToPath(new URL('../..', import.meta.url));
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

// Nothing listens on the discard port: every send fails, the data waits.
const CONFIG = `
[[targets]]
name = "influx-down"
kind = "influxdb-v1"
url = "http://127.0.0.1:9"
`;

/** A renewal stamped daysAgo, at a fixed hour of that day so the chart's days are stable. */
function line(host: string, domain: string, daysAgo: number, fields = 'renewed_count=1'): string {
  const atMs = Math.floor(Date.now() / DAY_MS) * DAY_MS - daysAgo * DAY_MS + 3 * 3_600_000;
  return `certbot_renewal,domain=${domain},host=${host} ${fields} ${BigInt(Math.min(atMs, Date.now())) * 1_000_000n}`;
}

/** Three hosts as a certbot hook reports them: optimus missed mail.example.com's renewal 70 days after its last one. */
function history(): string[] {
  const nowS = Math.floor(Date.now() / 1000);
  return [
    line('optimus', 'example.com', 80),
    line('optimus', 'www.example.com', 80),
    line('optimus', 'mail.example.com', 70),
    line('optimus', 'all', 80, 'renewed_count=2'),
    line('optimus', 'all', 70, 'renewed_count=1'),
    line('optimus', 'example.com', 20),
    line('optimus', 'www.example.com', 20),
    line('optimus', 'all', 20, 'renewed_count=2'),
    line('bumblebee', 'shop.example.org', 40),
    line('bumblebee', 'all', 40, 'renewed_count=1'),
    // a 45-day certificate, with its dates from the enhanced hook
    line('bumblebee', 'shop.example.org', 10, `renewed_count=1,not_before=${nowS - 10 * 86_400}i,not_after=${nowS + 35 * 86_400}i`),
    line('bumblebee', 'all', 10, 'renewed_count=1'),
    line('bumblebee', '*.example.org', 2),
    line('bumblebee', 'all', 2, 'renewed_count=1'),
    line('megatron', 'legacy.example.net', 95),
    line('megatron', 'legacy.example.net', 160),
    line('megatron', 'all', 95, 'renewed_count=1'),
  ];
}

async function seed(t: Test, relay: Relay): Promise<void> {
  const res = await relay.app.inject({ method: 'POST', url: '/write?db=certbot', payload: history().join('\n') });
  t.equal(res.statusCode, 204, res.body);
  const snooze = await relay.app.inject({
    method: 'POST',
    url: '/api/v1/renewals/snooze',
    payload: JSON.stringify({ host: 'megatron', domain: 'legacy.example.net', for_hours: 7 * 24 }),
  });
  t.equal(snooze.statusCode, 200, snooze.body);
}

t.test('the page shows the overdue certificate as overdue, draws renewals per host per day, and the target that is down', async (t) => {
  const relay = relayFor(t, CONFIG);
  await seed(t, relay);
  const address = await relay.app.listen({ host: '127.0.0.1', port: 0 });
  await until(t, 'the forwarder has failed once', () => relay.forwarding.statuses().every((s) => s.lastErrorMs !== null), 15_000);

  const browser: Browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS });
  t.teardown(() => browser.close());
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const pageErrors: string[] = [];
  page.on('pageerror', (err) => pageErrors.push(err.message));
  page.on('console', (message) => {
    if (message.type() === 'error') pageErrors.push(message.text());
  });

  const response = await page.goto(`${address}/`);
  t.equal(response?.status(), 200);
  const headers = response?.headers() ?? {};
  t.match(headers['content-security-policy'], /script-src 'self';.*frame-ancestors 'none'/, 'only its own scripts run (a CSP violation would be a console error below)');
  t.equal(headers['x-frame-options'], 'DENY');
  t.equal(headers['x-content-type-options'], 'nosniff');
  t.match(await page.title(), /^certrelay: 1 overdue$/);

  const overdueRow = page.locator('table.certificates tbody tr', { hasText: 'mail.example.com' });
  t.match(await overdueRow.getAttribute('class'), /\bstate-overdue\b/);
  t.equal(await overdueRow.locator('.state').innerText(), 'overdue');
  t.match(await overdueRow.locator('td').nth(3).innerText(), /^(69|70)\.\d$/, 'the age in days');
  const domains = await page.locator('table.certificates tbody tr td:first-child').allInnerTexts();
  t.same(domains, ['legacy.example.net', 'mail.example.com', 'example.com', 'www.example.com', 'shop.example.org', '*.example.org'], 'the longest without a renewal first');
  const stateOf = async (domain: string) => page.locator('table.certificates tbody tr', { hasText: domain }).locator('.state').innerText();
  t.match(await stateOf('legacy.example.net'), /^snoozed until \d{4}-\d\d-\d\d \d\d:\d\dZ$/);
  t.equal(await stateOf('*.example.org'), 'new');
  t.equal(await page.locator('tr.state-overdue').count(), 1, 'only the overdue row is highlighted');

  // uPlot draws on a canvas; its legend names each host's series.
  const canvas = page.locator('#renewals-chart canvas');
  await canvas.first().waitFor({ state: 'visible', timeout: 10_000 });
  const box = await canvas.first().boundingBox();
  t.ok(box !== null && box.width > 300 && box.height > 100, `the canvas has a size: ${JSON.stringify(box)}`);
  const legend = await page.locator('#renewals-chart .u-legend .u-series .u-label').allInnerTexts();
  t.same(legend.slice(1), ['bumblebee', 'megatron', 'optimus']);

  const target = page.locator('table.targets tbody tr', { hasText: 'influx-down' });
  t.equal(await target.count(), 1);
  t.equal(await target.locator('.state').innerText(), 'retrying');
  t.match(await target.locator('td.error').innerText(), /ECONNREFUSED/);
  t.ok(Number(await target.locator('td').nth(4).innerText()) > 0, 'its unsent points');

  t.same(pageErrors, [], 'no script errors');

  const artifacts = `${PROJECT_ROOT}test-artifacts`;
  mkdirSync(artifacts, { recursive: true });
  await page.screenshot({ path: `${artifacts}/web-page.png`, fullPage: true });
  if (process.env.CERTRELAY_UPDATE_SCREENSHOT === '1') await page.screenshot({ path: `${PROJECT_ROOT}docs/web-page.png`, fullPage: true });
});

t.test('the table needs no JavaScript', async (t) => {
  const relay = relayFor(t, CONFIG);
  await seed(t, relay);
  const address = await relay.app.listen({ host: '127.0.0.1', port: 0 });
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS });
  t.teardown(() => browser.close());
  const context = await browser.newContext({ javaScriptEnabled: false });
  const page = await context.newPage();
  await page.goto(`${address}/`);
  t.equal(await page.locator('table.certificates tr.state-overdue .state').innerText(), 'overdue');
  t.equal(await page.locator('#renewals-chart canvas').count(), 0);
  t.match(await page.locator('noscript').first().textContent(), /optimus: 5/);
});

t.test('with auth.protect_reads the browser asks for the token, and with it the page, its scripts and its chart load', async (t) => {
  const relay = relayFor(t, `${CONFIG}\n[auth]\nprotect_reads = true\n\n[[auth.tokens]]\ntoken = "read-token"\n`);
  const written = await relay.app.inject({ method: 'POST', url: '/write?db=certbot', payload: history().join('\n'), headers: { authorization: 'Bearer read-token' } });
  t.equal(written.statusCode, 204, written.body);
  const address = await relay.app.listen({ host: '127.0.0.1', port: 0 });
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS });
  t.teardown(() => browser.close());

  // A headless browser cannot show the login prompt (it fails the navigation instead): ask as its fetch would.
  const refused = await (await browser.newContext()).request.get(`${address}/`);
  t.equal(refused.status(), 401, 'no token: 401');
  t.match(refused.headers()['www-authenticate'], /^Basic realm="certrelay"/, 'the challenge that makes a browser ask');

  const operator = await (await browser.newContext({ httpCredentials: { username: 'ops', password: 'read-token' } })).newPage();
  const pageErrors: string[] = [];
  operator.on('pageerror', (err) => pageErrors.push(err.message));
  operator.on('console', (message) => {
    if (message.type() === 'error') pageErrors.push(message.text());
  });
  const response = await operator.goto(`${address}/`);
  t.equal(response?.status(), 200, 'the token as the password: 200');
  await operator.locator('#renewals-chart canvas').first().waitFor({ state: 'visible', timeout: 10_000 });
  const legend = await operator.locator('#renewals-chart .u-legend .u-series .u-label').allInnerTexts();
  t.same(legend.slice(1), ['bumblebee', 'megatron', 'optimus'], 'the chart drew: its scripts and data loaded with the same credentials');
  t.same(pageErrors, [], 'no script errors');
});

/** The page of a relay that took these lines, open in chromium with its chart drawn. */
async function chartOf(t: Test, lines: string[]) {
  const relay = relayFor(t);
  const res = await relay.app.inject({ method: 'POST', url: '/write?db=certbot', payload: lines.join('\n') });
  t.equal(res.statusCode, 204, res.body);
  const address = await relay.app.listen({ host: '127.0.0.1', port: 0 });
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS });
  t.teardown(() => browser.close());
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  await page.goto(`${address}/`);
  const canvas = page.locator('#renewals-chart canvas').first();
  await canvas.waitFor({ state: 'visible', timeout: 10_000 });
  return { page, canvas };
}

t.test('the chart stacks the hosts of a day: each one\'s bar stays visible', async (t) => {
  const { canvas } = await chartOf(t, [line('alpha', 'a.example', 5), line('alpha', 'all', 5), line('beta', 'b.example', 5), line('beta', 'all', 5, 'renewed_count=3')]);
  // Pixels of each host's colour (alpha #1f6feb, beta #d97706) on the drawn canvas.
  const counts = await canvas.evaluate((element) => {
    const c = element as HTMLCanvasElement;
    const data = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
    const near = (i: number, [r, g, b]: number[]) => Math.abs(data[i] - r) < 12 && Math.abs(data[i + 1] - g) < 12 && Math.abs(data[i + 2] - b) < 12;
    let alpha = 0;
    let beta = 0;
    for (let i = 0; i < data.length; i += 4) {
      if (near(i, [0x1f, 0x6f, 0xeb])) alpha++;
      if (near(i, [0xd9, 0x77, 0x06])) beta++;
    }
    return { alpha, beta };
  });
  t.ok(counts.alpha > 50, `alpha's bar is visible (${counts.alpha} pixels)`);
  t.ok(counts.beta > 50, `beta's bar is visible (${counts.beta} pixels)`);
  t.ok(counts.beta > 2 * counts.alpha, 'beta renewed three times as often that day: its part of the stack is the larger');
});

t.test('a host name of 255 characters wraps in the chart legend instead of widening the page', async (t) => {
  const longHost = 'very-long-host-name-'.repeat(13).slice(0, 255);
  const { page } = await chartOf(t, [line(longHost, 'a.example', 5), line(longHost, 'all', 5), line('beta', 'b.example', 5), line('beta', 'all', 5)]);
  t.same(await page.locator('#renewals-chart .u-legend .u-series .u-label').allInnerTexts().then((labels) => labels.slice(1).map((l) => l.replace(/\s/g, ''))), ['beta', longHost], 'the whole name is in the legend');
  const widths = await page.evaluate(() => ({ page: document.documentElement.scrollWidth, viewport: document.documentElement.clientWidth }));
  t.ok(widths.page <= widths.viewport, `no horizontal scrolling: the page is ${widths.page} px wide in a ${widths.viewport} px window`);
});

t.test("today's bar is drawn whole, as wide as an earlier day's, not cut in half by the chart's edge", async (t) => {
  const { canvas } = await chartOf(t, [line('alpha', 'a.example', 5), line('alpha', 'all', 5), line('alpha', 'a.example', 0), line('alpha', 'all', 0)]);
  // The widths, in pixel columns, of the runs of alpha's colour (#1f6feb) that are bar-high, left to right.
  const bars = await canvas.evaluate((element) => {
    const c = element as HTMLCanvasElement;
    const data = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
    const columns = new Array<number>(c.width).fill(0);
    for (let i = 0; i < data.length; i += 4) {
      if (Math.abs(data[i] - 0x1f) < 12 && Math.abs(data[i + 1] - 0x6f) < 12 && Math.abs(data[i + 2] - 0xeb) < 12) columns[(i / 4) % c.width]++;
    }
    const widths: number[] = [];
    columns.forEach((count, x) => {
      if (count > 20) {
        if (x > 0 && columns[x - 1] > 20) widths[widths.length - 1]++;
        else widths.push(1);
      }
    });
    return widths;
  });
  t.equal(bars.length, 2, `two bars: ${JSON.stringify(bars)}`);
  t.ok(bars[1] >= bars[0] - 1, `today's bar (${bars[1]} px) is as wide as the one of 5 days ago (${bars[0]} px)`);
});
