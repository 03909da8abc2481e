// renewals.max_certificates bounds the tracked certificates: reports of further
// (host, domain) pairs are stored and forwarded, counted, and not tracked; the
// first pairs in the log are the tracked ones, before and after a restart.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { buildApp, type Relay } from '../../src/app.js';
import { loadConfig } from '../../src/config/load.js';

const line = (domain: string, host = 'h1', s = 1_700_000_000) => `certbot_renewal,domain=${domain},host=${host} renewed_count=1 ${s}000000000`;

t.test('past the limit, new certificates are stored but not tracked; known ones still renew; a restart agrees', async (t) => {
  const dir = t.testdir({});
  const file = join(dir, 'certrelay.toml');
  writeFileSync(file, '[renewals]\nmax_certificates = 3\n');
  const logged: Array<{ level: number; msg: string }> = [];
  const start = (): Relay =>
    buildApp(loadConfig({ file, env: { CERTRELAY_STORE_PATH: join(dir, 'store'), CERTRELAY_LISTEN: '127.0.0.1:0' } }), {
      logger: { level: 'warn', stream: { write: (l: string) => logged.push(JSON.parse(l) as { level: number; msg: string }) } },
    });
  const tracked = async (relay: Relay) =>
    ((await relay.app.inject({ method: 'GET', url: '/api/v1/renewals' })).json().certificates as Array<{ domain: string; renewals: number }>).map((c) => `${c.domain}:${c.renewals}`).sort();

  const first = start();
  const body = ['a.example', 'b.example', 'c.example', 'd.example', 'e.example'].map((d) => line(d)).join('\n');
  t.equal((await first.app.inject({ method: 'POST', url: '/write?db=certbot', payload: body })).statusCode, 204, 'every point is accepted');
  t.equal(first.store.readBatchesAfter(0, 10)[0].lines.split('\n').length, 5, 'and stored (so forwarded)');
  t.same(await tracked(first), ['a.example:1', 'b.example:1', 'c.example:1'], 'the first three in the log are tracked');
  const metrics = (await first.app.inject({ method: 'GET', url: '/metrics' })).body;
  t.match(metrics, /^certrelay_renewals_untracked_reports_total 2$/m);
  t.equal(logged.filter((l) => /renewals\.max_certificates reached/.test(l.msg)).length, 1, 'logged once');

  // A commit that rolls back makes the renewal state rebuild itself from the log at the next one: the
  // untracked reports it reads again were counted already.
  t.throws(() =>
    first.store.transaction(() => {
      first.store.appendBatches([{ db: 'certbot', rp: '', lines: 'x v=1 1', points: 1, receivedAtMs: Date.now() }]);
      throw new Error('rolled back');
    }),
  );
  await first.app.inject({ method: 'POST', url: '/write?db=certbot', payload: [line('a.example', 'h1', 1_700_000_100), line('f.example')].join('\n') });
  t.same(await tracked(first), ['a.example:2', 'b.example:1', 'c.example:1'], 'a known certificate still renews; a sixth is not tracked');
  t.match((await first.app.inject({ method: 'GET', url: '/metrics' })).body, /^certrelay_renewals_untracked_reports_total 3$/m, 'd, e and f, each once');
  t.equal(logged.filter((l) => /renewals\.max_certificates reached/.test(l.msg)).length, 1, 'still one line');
  await first.close();

  const second = start();
  t.teardown(() => second.close());
  t.same(await tracked(second), ['a.example:2', 'b.example:1', 'c.example:1'], 'the same after a restart');
});

t.test('past the limit, the domain=all totals of further hosts are stored but kept out of the daily chart; a restart agrees', async (t) => {
  // Uncapped, 200,000 made-up hosts (15 MB of hook writes) made the page 63 MB, built in 1.3 s at 694 MB of RSS.
  const dir = t.testdir({});
  const file = join(dir, 'certrelay.toml');
  writeFileSync(file, '[renewals]\nmax_certificates = 3\n');
  const start = (): Relay => buildApp(loadConfig({ file, env: { CERTRELAY_STORE_PATH: join(dir, 'store'), CERTRELAY_LISTEN: '127.0.0.1:0' } }), { logger: false });
  const nowS = Math.floor(Date.now() / 1000) - 3600;
  const charted = async (relay: Relay) =>
    ((await relay.app.inject({ method: 'GET', url: '/api/v1/renewals/daily' })).json().hosts as Array<{ host: string; renewals: number[] }>)
      .map((h) => `${h.host}:${h.renewals.reduce((sum, n) => sum + n, 0)}`)
      .sort();

  const first = start();
  const hosts = ['h1', 'h2', 'h3', 'h4', 'h5'];
  const body = hosts.map((h) => line('all', h, nowS)).join('\n');
  t.equal((await first.app.inject({ method: 'POST', url: '/write?db=certbot', payload: body })).statusCode, 204, 'every point is accepted');
  t.equal(first.store.readBatchesAfter(0, 10)[0].lines.split('\n').length, 5, 'and stored (so forwarded)');
  t.same(await charted(first), ['h1:1', 'h2:1', 'h3:1'], 'the first three hosts in the log are charted');
  t.match((await first.app.inject({ method: 'GET', url: '/metrics' })).body, /^certrelay_renewals_untracked_reports_total 2$/m);
  await first.app.inject({ method: 'POST', url: '/write?db=certbot', payload: [line('all', 'h1', nowS + 60), line('all', 'h6', nowS)].join('\n') });
  t.same(await charted(first), ['h1:2', 'h2:1', 'h3:1'], 'a charted host still counts; a sixth is not charted');
  await first.close();

  const second = start();
  t.teardown(() => second.close());
  t.same(await charted(second), ['h1:2', 'h2:1', 'h3:1'], 'the same after a restart');
  await second.app.inject({ method: 'POST', url: '/write?db=certbot', payload: line('all', 'h7', nowS) });
  t.same(await charted(second), ['h1:2', 'h2:1', 'h3:1'], 'and the limit still holds');
});
