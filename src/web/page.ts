// The operator's page at `/`, rendered on the server: the certificate table
// (overdue rows highlighted), renewals per host per day (uPlot, drawn from
// JSON embedded in the page), and forwarding status per target. The tables
// need no JavaScript. Every text from outside (host and domain tags, target
// URLs and error texts) is escaped.
import { formatAgo, formatDuration } from '../cli/duration.js';
import { targetState } from '../cli/status.js';
import type { TargetStatus } from '../forward/status.js';
import { RELAY_VERSION } from '../version.js';
import { DAILY_WINDOW_DAYS, type DailyOverview, type RenewalOverview, type RenewalRow } from '../renewals/overview.js';

export interface PageView {
  readonly nowMs: number;
  readonly overview: RenewalOverview;
  readonly daily: DailyOverview;
  readonly targets: readonly TargetStatus[];
}

/** An open page refreshes itself, so a wall screen follows the evaluator and the forwarders. */
const REFRESH_SECONDS = 300;

export function renderPage(view: PageView): string {
  const overdue = view.overview.certificates.filter((row) => row.state === 'overdue').length;
  const title = overdue > 0 ? `certrelay: ${overdue} overdue` : 'certrelay';
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="refresh" content="${REFRESH_SECONDS}">
<title>${escapeHtml(title)}</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/assets/uPlot.min.css">
<style>${STYLE}</style>
</head>
<body>
<header>
  <h1>certrelay</h1>
  <p class="summary">${summary(view.overview.certificates, overdue)} · as of ${escapeHtml(utcMinute(view.nowMs))}</p>
</header>
<main>
<section id="certificates">
  <h2>Certificates</h2>
  ${certificateTable(view.overview.certificates)}
</section>
<section id="daily">
  <h2>Renewals per host per day <small>(last ${DAILY_WINDOW_DAYS} days, UTC, from the hook's <code>domain=all</code> totals)</small></h2>
  ${dailyChart(view.daily)}
</section>
<section id="forwarding">
  <h2>Forwarding</h2>
  ${forwardingTable(view.targets, view.nowMs)}
</section>
</main>
<footer>certrelay ${escapeHtml(RELAY_VERSION)} · <a href="/api/v1/renewals">/api/v1/renewals</a> · <a href="/api/v1/renewals/daily">/api/v1/renewals/daily</a> · <a href="/health">/health</a> · <a href="/metrics">/metrics</a></footer>
<script src="/assets/uPlot.iife.min.js"></script>
<script src="/assets/renewals-chart.js"></script>
</body>
</html>
`;
}

function summary(rows: readonly RenewalRow[], overdue: number): string {
  const certificates = `${rows.length} certificate${rows.length === 1 ? '' : 's'}`;
  if (overdue === 0) return `${certificates}, none overdue`;
  return `${certificates}, <strong class="overdue-count">${overdue} overdue</strong>`;
}

function certificateTable(rows: readonly RenewalRow[]): string {
  if (rows.length === 0) {
    return '<p class="empty">No certificate has reported yet. Install the certbot deploy hook (deploy/certbot/) and renew, or write a <code>certbot_renewal</code> point.</p>';
  }
  const body = rows
    .map(
      (row) => `<tr class="state-${row.state}">
    <td class="name">${escapeHtml(row.domain)}</td>
    <td class="name">${escapeHtml(row.host)}</td>
    <td>${time(row.last_renewal, 'never reported')}</td>
    <td class="number">${row.age_days === null ? '–' : row.age_days.toFixed(1)}</td>
    <td>${time(row.expected_renewal)}</td>
    <td>${time(row.overdue_at)}</td>
    <td><span class="state">${stateText(row)}</span></td>
  </tr>`,
    )
    .join('\n  ');
  return `<table class="certificates">
  <thead><tr><th>Domain</th><th>Host</th><th>Last renewal</th><th class="number">Age (days)</th><th>Expected renewal</th><th>Overdue from</th><th>State</th></tr></thead>
  <tbody>
  ${body}
  </tbody>
</table>`;
}

function stateText(row: RenewalRow): string {
  if (row.state === 'snoozed' && row.snoozed_until !== null) return `snoozed until ${escapeHtml(utcMinute(Date.parse(row.snoozed_until)))}`;
  return row.state;
}

function dailyChart(daily: DailyOverview): string {
  if (daily.hosts.length === 0) return `<p class="empty">No host reported a <code>domain=all</code> total in the last ${DAILY_WINDOW_DAYS} days.</p>`;
  // JSON in a data block: only "<" could end the element early ("</script>"), so it is escaped.
  const json = JSON.stringify(daily).replace(/</g, '\\u003c');
  const totals = daily.hosts.map((h) => `${escapeHtml(h.host)}: ${h.renewals.reduce((sum, n) => sum + n, 0)}`).join(', ');
  return `<div id="renewals-chart" class="chart"></div>
  <noscript><p>The chart needs JavaScript. Renewals in the last ${DAILY_WINDOW_DAYS} days: ${totals}.</p></noscript>
  <script type="application/json" id="renewals-daily">${json}</script>`;
}

function forwardingTable(targets: readonly TargetStatus[], nowMs: number): string {
  if (targets.length === 0) return '<p class="empty">No targets configured: points are stored and monitored here, not forwarded.</p>';
  const rows = targets.map((t) => {
    const state = targetState(t);
    const stateLabel = t.heldBecause === null ? state : `held: ${t.heldBecause.replace(/_/g, ' ')}`;
    const lastError =
      t.lastErrorMs === null
        ? '–'
        : `${escapeHtml(formatAgo(t.lastErrorMs, nowMs))}: ${t.lastStatus === null ? '' : `HTTP ${t.lastStatus} `}${escapeHtml(t.lastError ?? t.lastOutcome ?? 'error')}`;
    return `<tr class="target-${state}">
    <td>${escapeHtml(t.target)}</td>
    <td>${escapeHtml(t.kind)}</td>
    <td>${escapeHtml(t.url)}</td>
    <td><span class="state">${escapeHtml(stateLabel)}</span></td>
    <td class="number">${t.backlogPoints}</td>
    <td class="number">${t.oldestUnsentMs === null ? '–' : escapeHtml(formatDuration(t.oldestUnsentAgeSeconds * 1000))}</td>
    <td>${escapeHtml(formatAgo(t.lastSuccessMs, nowMs))}</td>
    <td class="error">${lastError}</td>
    <td class="number">${t.deadLetters}</td>
  </tr>`;
  });
  return `<table class="targets">
  <thead><tr><th>Target</th><th>Kind</th><th>URL</th><th>State</th><th class="number">Unsent points</th><th class="number">Oldest unsent</th><th>Last success</th><th>Last error</th><th class="number">Dead letters</th></tr></thead>
  <tbody>
  ${rows.join('\n  ')}
  </tbody>
</table>`;
}

function time(iso: string | null, never = '–'): string {
  if (iso === null) return escapeHtml(never);
  return `<time datetime="${escapeHtml(iso)}">${escapeHtml(utcMinute(Date.parse(iso)))}</time>`;
}

/** "2025-01-05 12:03Z": enough for renewals, which are days apart. */
function utcMinute(ms: number): string {
  return new Date(ms).toISOString().slice(0, 16).replace('T', ' ') + 'Z';
}

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => HTML_ENTITIES[c]);
}

const HTML_ENTITIES: Readonly<Record<string, string>> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

const STYLE = `
  :root { color-scheme: light; --border: #d0d7de; --muted: #57606a; --overdue: #b42318; --overdue-bg: #fdecea; }
  body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0 auto; padding: 1rem 1.5rem 2rem; max-width: 1200px; color: #1f2328; }
  header { display: flex; align-items: baseline; gap: 1.5rem; flex-wrap: wrap; border-bottom: 1px solid var(--border); margin-bottom: 1rem; }
  h1 { font-size: 1.4rem; margin: 0.3rem 0; }
  h2 { font-size: 1.1rem; margin: 1.5rem 0 0.5rem; }
  h2 small { font-weight: normal; color: var(--muted); }
  .summary { color: var(--muted); margin: 0; }
  .overdue-count { color: var(--overdue); }
  table { border-collapse: collapse; width: 100%; }
  th, td { text-align: left; padding: 0.35rem 0.6rem; border-bottom: 1px solid var(--border); vertical-align: top; }
  th { background: #f6f8fa; font-weight: 600; white-space: nowrap; }
  td.number, th.number { text-align: right; font-variant-numeric: tabular-nums; }
  td { white-space: nowrap; }
  td.error { white-space: normal; max-width: 28rem; overflow-wrap: anywhere; }
  /* Names come from clients: a long one wraps instead of pushing the state column off the page. */
  td.name { white-space: normal; max-width: 24rem; overflow-wrap: anywhere; }
  /* uPlot's legend is a table of <th> cells: a long host name wraps there too, instead of widening the page. */
  .u-legend th { white-space: normal; overflow-wrap: anywhere; }
  .state { display: inline-block; padding: 0 0.45rem; border-radius: 0.6rem; background: #eaeef2; white-space: nowrap; }
  tr.state-overdue td { background: var(--overdue-bg); }
  tr.state-overdue td:first-child { box-shadow: inset 4px 0 var(--overdue); }
  tr.state-overdue .state, tr.target-held .state { background: var(--overdue); color: #fff; font-weight: 600; }
  tr.state-ok .state, tr.target-ok .state { background: #dafbe1; color: #116329; }
  tr.state-new .state { background: #ddf4ff; color: #0a3069; }
  tr.state-snoozed .state, tr.target-retrying .state { background: #fff8c5; color: #7d4e00; }
  tr.state-retired td { color: var(--muted); }
  .chart { min-height: 300px; }
  .empty { color: var(--muted); }
  footer { margin-top: 2rem; color: var(--muted); font-size: 0.85rem; }
  a { color: #0969da; }
`;
