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

export function registerWebPage(app: FastifyInstance, deps: WebPageDeps): void {
  app.get('/', async (_request, reply) => {
    const nowMs = deps.clock.nowMs();
    const html = renderPage({
      nowMs,
      overview: renewalOverview(deps.renewals, nowMs),
      daily: dailyOverview(deps.renewals, nowMs),
      targets: deps.targetStatuses(nowMs),
    });
    return reply.type('text/html; charset=utf-8').header('Cache-Control', 'no-store').send(html);
  });
  registerAssets(app);
}
