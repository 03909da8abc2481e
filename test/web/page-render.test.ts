// renderPage is pure: every text from outside (tags, target errors) reaches
// the HTML escaped, and the chart's JSON cannot end its script element early.
import t from 'tap';
import type { TargetStatus } from '../../src/forward/status.js';
import { escapeHtml, renderPage } from '../../src/web/page.js';
import type { RenewalRow } from '../../src/renewals/overview.js';

const NOW_MS = Date.UTC(2025, 5, 1, 12);
const HOSTILE = '<img src=x onerror=alert(1)>';

const row: RenewalRow = {
  domain: 'example.com',
  host: HOSTILE,
  last_renewal: '2025-03-01T00:00:00.000Z',
  age_days: 92.5,
  expected_renewal: '2025-04-30T00:00:00.000Z',
  overdue_at: '2025-05-02T00:00:00.000Z',
  state: 'overdue',
  snoozed_until: null,
  not_after: null,
  renewals: 3,
  first_seen: '2024-11-01T00:00:00.000Z',
};

const target: TargetStatus = {
  target: 'influx-a',
  started: true,
  kind: 'influxdb-v1',
  url: 'http://influxdb:8086',
  cursor: 0,
  backlogBatches: 1,
  backlogPoints: 2,
  backlogBytes: 50,
  oldestUnsentMs: NOW_MS - 90_000,
  oldestUnsentAgeSeconds: 90,
  lastSuccessMs: null,
  lastErrorMs: NOW_MS - 5000,
  lastStatus: 400,
  lastOutcome: 'rejected',
  lastError: 'unable to parse \'<script>alert("x")</script>\'',
  deadLetters: 0,
  heldBecause: null,
  heldDestination: null,
};

t.test('tags and target errors are escaped; the embedded JSON cannot close its script element', async (t) => {
  const html = renderPage({
    nowMs: NOW_MS,
    overview: { now: new Date(NOW_MS).toISOString(), certificates: [row] },
    daily: { days: ['2025-06-01'], hosts: [{ host: '</script><script>alert(1)</script>', renewals: [1] }] },
    targets: [target],
  });
  t.notMatch(html, /<img/);
  t.notMatch(html, /<script>alert/);
  t.match(html, '&lt;img src=x onerror=alert(1)&gt;');
  t.match(html, 'unable to parse &#39;&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&#39;');
  const json = /<script type="application\/json" id="renewals-daily">(.*?)<\/script>/s.exec(html)?.[1] ?? '';
  t.same(JSON.parse(json).hosts[0].host, '</script><script>alert(1)</script>', 'the JSON still reads back exactly');
  t.match(html, /<tr class="state-overdue">/);
  t.match(html, '<title>certrelay: 1 overdue</title>');
  t.match(html, /<tr class="target-ok">[\s\S]*HTTP 400 unable to parse/);
});

t.test('empty tables say what is missing instead of drawing nothing', async (t) => {
  const html = renderPage({ nowMs: NOW_MS, overview: { now: '', certificates: [] }, daily: { days: [], hosts: [] }, targets: [] });
  t.match(html, 'No certificate has reported yet');
  t.match(html, 'No host reported a <code>domain=all</code> total');
  t.match(html, 'No targets configured');
  t.notMatch(html, 'renewals-daily"', 'no chart data without hosts');
  t.equal(escapeHtml(`&<>"'`), '&amp;&lt;&gt;&quot;&#39;');
});
