// GET / (the operator's page) and its assets. Open like /metrics: the page
// names hosts, domains and targets, never a secret.
import type { FastifyInstance } from 'fastify';
import type { Clock } from '../clock.js';
import type { TargetStatus } from '../forward/status.js';
import type { RenewalStore } from '../renewals/renewal-store.js';
import { registerAssets } from './assets.js';
import { renderPage } from './page.js';
import { dailyOverview, renewalOverview } from '../renewals/overview.js';

export interface WebPageDeps {
  readonly renewals: RenewalStore;
  readonly clock: Clock;
  /** The forwarders' live view, one per configured target. */
  readonly targetStatuses: (nowMs: number) => readonly TargetStatus[];
}

// The page runs only its own two scripts and its own styles (one inline <style>), is framed by no one,
// and leaks no URL: a host or domain name that slipped past escaping still could not run or load anything.
const PAGE_SECURITY_HEADERS = {
  'Content-Security-Policy':
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'X-Frame-Options': 'DENY',
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
};

export function registerWebPage(app: FastifyInstance, deps: WebPageDeps): void {
  app.get('/', async (_request, reply) => {
    const nowMs = deps.clock.nowMs();
    const html = renderPage({
      nowMs,
      overview: renewalOverview(deps.renewals, nowMs),
      daily: dailyOverview(deps.renewals, nowMs),
      targets: deps.targetStatuses(nowMs),
    });
    return reply
      .type('text/html; charset=utf-8')
      .header('Cache-Control', 'no-store')
      .headers(PAGE_SECURITY_HEADERS)
      .send(html);
  });
  registerAssets(app);
}
