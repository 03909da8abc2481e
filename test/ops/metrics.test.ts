import t from 'tap';
import { readFileSync } from 'node:fs';
import { Metrics } from '../../src/ops/metrics.js';

const doc = readFileSync(new URL('../../docs/metrics.md', import.meta.url), 'utf8');
const isDefaultProcessMetric = (name: string) => /^certrelay_(process_|nodejs_)/.test(name);

t.test('every metric the relay exports is documented in docs/metrics.md, and nothing more', async (t) => {
  const metrics = new Metrics({ storeSizeBytes: () => 1, storeMaxBytes: () => 2 });
  const exported = (await metrics.registry.getMetricsAsJSON()).map((m) => m.name).filter((n) => !isDefaultProcessMetric(n));
  const documented = [...doc.matchAll(/^\| `((?:certrelay|certbot)_[a-z_]+)` \|/gm)].map((m) => m[1]);
  t.same([...exported].sort(), [...documented].sort());
});

t.test('the store gauges read their sources at scrape time', async (t) => {
  let size = 10;
  const metrics = new Metrics({ storeSizeBytes: () => size, storeMaxBytes: () => 100 });
  t.match(await metrics.registry.metrics(), /^certrelay_store_size_bytes 10$/m);
  size = 42;
  t.match(await metrics.registry.metrics(), /^certrelay_store_size_bytes 42$/m);
  t.match(await metrics.registry.metrics(), /^certrelay_store_max_bytes 100$/m);
});

t.test('docs/metrics.md gives each metric its real type and label names', async (t) => {
  const metrics = new Metrics({ storeSizeBytes: () => 1, storeMaxBytes: () => 2 });
  const rows = new Map([...doc.matchAll(/^\| `((?:certrelay|certbot)_[a-z_]+)` \| ([a-z]+) \|([^|]*)\|/gm)].map((m) => [m[1], { type: m[2], labels: m[3] }]));
  for (const { name, type } of await metrics.registry.getMetricsAsJSON()) {
    if (isDefaultProcessMetric(name)) continue;
    const row = rows.get(name);
    const labelNames = [...((metrics.registry.getSingleMetric(name) as unknown as { labelNames?: string[] }).labelNames ?? [])].sort();
    // The labels cell names each label in backticks; values, in parentheses, are examples.
    const documentedLabels = [...(row?.labels ?? '').replace(/\([^)]*\)/g, '').matchAll(/`([a-z_]+)`/g)].map((m) => m[1]).sort();
    t.same({ type: row?.type, labels: documentedLabels }, { type, labels: labelNames }, name);
  }
});
