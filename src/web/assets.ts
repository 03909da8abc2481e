// The files the web page loads besides itself: uPlot (from its npm package,
// so an upgrade needs no copy) and the page's chart script. Read once, on
// first use, and kept in memory: together they are about 60 KB.
import type { FastifyInstance } from 'fastify';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { RENEWALS_CHART_SCRIPT } from './chart-script.js';

const requireFromHere = createRequire(import.meta.url);

interface Asset {
  readonly contentType: string;
  readonly body: () => string | Buffer;
}

function packageFile(specifier: string): () => Buffer {
  let cached: Buffer | undefined;
  return () => (cached ??= readFileSync(requireFromHere.resolve(specifier)));
}

/** URL path → asset. page.ts links these paths; openapi.yaml lists them. */
export const ASSETS: Readonly<Record<string, Asset>> = {
  '/assets/uPlot.iife.min.js': { contentType: 'text/javascript; charset=utf-8', body: packageFile('uplot/dist/uPlot.iife.min.js') },
  '/assets/uPlot.min.css': { contentType: 'text/css; charset=utf-8', body: packageFile('uplot/dist/uPlot.min.css') },
  '/assets/renewals-chart.js': { contentType: 'text/javascript; charset=utf-8', body: () => RENEWALS_CHART_SCRIPT },
};

/** Not versioned by URL, so cached for an hour rather than forever. */
const CACHE_CONTROL = 'public, max-age=3600';

export function registerAssets(app: FastifyInstance): void {
  for (const [path, asset] of Object.entries(ASSETS)) {
    app.get(path, async (_request, reply) => reply.type(asset.contentType).header('Cache-Control', CACHE_CONTROL).header('X-Content-Type-Options', 'nosniff').send(asset.body()));
  }
}
