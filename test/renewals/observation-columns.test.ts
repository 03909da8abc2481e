import t from 'tap';
import { fromColumns, toColumns } from '../../src/renewals/observation-columns.js';
import type { RenewalObservation } from '../../src/renewals/observation.js';

t.test('observations survive the trip through columns, with and without dates, and after a structured clone', async (t) => {
  const observations: RenewalObservation[] = [
    { host: 'web-1', domain: 'all', atNs: 1656169934438253518n, atMs: 1656169934438, key: 'web-1\u0000all', renewedCount: 2, reports: 1 },
    {
      host: 'web 2',
      domain: '*.example.org',
      atNs: 9_223_372_036_854_775_806n,
      atMs: 9_223_372_036_854,
      key: 'web 2\u0000*.example.org',
      renewedCount: 1.5,
      reports: 3,
      notAfterS: 1663945934,
      notBeforeS: 1656169934,
    },
    { host: 'h', domain: 'd.example', atNs: -5n, atMs: 0, key: 'h\u0000d.example', renewedCount: 1, reports: 1, notAfterS: 0 },
  ];
  t.same(fromColumns(toColumns(observations)), observations);
  t.same(fromColumns(structuredClone(toColumns(observations))), observations, 'as a worker message carries them');
  t.same(fromColumns(toColumns([])), []);
});
