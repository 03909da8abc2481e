// auth.protect_reads: the page, its assets, /api/v1/renewals and /metrics need
// a token (a browser is asked for it by the 401's WWW-Authenticate: Basic);
// /ping, /health and /ready stay open for probes. Off by default.
import t from 'tap';
import { loadConfig } from '../../src/config/load.js';
import { relayFor } from '../support/relay.js';

const TOKENS = `[[auth.tokens]]\ntoken = "admin-token"\n\n[[auth.tokens]]\ntoken = "hook-token"\ndatabases = ["certbot"]\n`;
const READS = ['/', '/assets/uPlot.min.css', '/api/v1/renewals', '/api/v1/renewals/daily', '/metrics'];
const PROBES: Array<[string, number]> = [
  ['/ping', 204],
  ['/health', 200],
  ['/ready', 200],
];
const basic = (password: string): string => `Basic ${Buffer.from(`anyone:${password}`).toString('base64')}`;

t.test('protect_reads = true: reads without a token get 401 with a Basic challenge; any configured token reads', async (t) => {
  const relay = relayFor(t, `[auth]\nprotect_reads = true\n\n${TOKENS}`);
  const written = await relay.app.inject({
    method: 'POST',
    url: '/write?db=certbot',
    headers: { authorization: 'Token hook-token' },
    payload: 'certbot_renewal,domain=example.com,host=web-1 renewed_count=1',
  });
  t.equal(written.statusCode, 204);
  for (const url of READS) {
    const open = await relay.app.inject({ method: 'GET', url });
    t.equal(open.statusCode, 401, `${url}: no token`);
    t.equal(open.headers['www-authenticate'], 'Basic realm="certrelay", charset="UTF-8"', `${url}: a browser asks for it`);
    t.match(JSON.parse(open.body).error, /auth\.protect_reads/);
    const wrong = await relay.app.inject({ method: 'GET', url, headers: { authorization: basic('guess') } });
    t.equal(wrong.statusCode, 401, `${url}: a wrong token`);
    for (const authorization of [basic('admin-token'), 'Bearer admin-token', basic('hook-token')]) {
      const read = await relay.app.inject({ method: 'GET', url, headers: { authorization } });
      t.equal(read.statusCode, 200, `${url}: ${authorization.split(' ')[0]} with a configured token`);
    }
  }
  const api = await relay.app.inject({ method: 'GET', url: '/api/v1/renewals', headers: { authorization: 'Bearer admin-token' } });
  t.match(api.json(), { certificates: [{ host: 'web-1', domain: 'example.com' }] }, 'the API answers as usual');
  for (const [url, status] of PROBES) {
    t.equal((await relay.app.inject({ method: 'GET', url })).statusCode, status, `${url} stays open for probes`);
  }
  const metrics = await relay.app.inject({ method: 'GET', url: '/metrics', headers: { authorization: 'Bearer admin-token' } });
  t.notMatch(metrics.body, /certrelay_write_requests_refused_total\{/, 'refused reads are not counted as refused writes');
});

t.test('off by default: reads need no token even when writes do', async (t) => {
  const relay = relayFor(t, TOKENS);
  for (const url of READS) t.equal((await relay.app.inject({ method: 'GET', url })).statusCode, 200, url);
  t.equal((await relay.app.inject({ method: 'POST', url: '/write?db=certbot', payload: 'm v=1' })).statusCode, 401, 'writes still do');
});

t.test('protect_reads without any token is a configuration error', async (t) => {
  t.throws(() => loadConfig({ env: { CERTRELAY_AUTH_PROTECT_READS: 'true' } }), /CERTRELAY_AUTH_PROTECT_READS \(auth\.protect_reads\): needs at least one \[\[auth\.tokens\]\]/);
  t.doesNotThrow(() => loadConfig({ env: { CERTRELAY_AUTH_PROTECT_READS: 'true', CERTRELAY_AUTH_TOKEN: 'x' } }), 'a token from the environment counts');
});

t.test('protect_reads = true: the token as ?p= reads too, and retire with ?p= still works (an admin token)', async (t) => {
  const relay = relayFor(t, `[auth]\nprotect_reads = true\n\n${TOKENS}`);
  const written = await relay.app.inject({
    method: 'POST',
    url: '/write?db=certbot&p=hook-token',
    payload: 'certbot_renewal,domain=example.com,host=web-1 renewed_count=1',
  });
  t.equal(written.statusCode, 204);
  t.equal((await relay.app.inject({ method: 'GET', url: '/metrics?p=hook-token' })).statusCode, 200, 'GET /metrics?p=');
  t.equal((await relay.app.inject({ method: 'GET', url: '/metrics?p=guess' })).statusCode, 401, 'a wrong ?p=');
  const retire = (p: string) =>
    relay.app.inject({ method: 'POST', url: `/api/v1/renewals/retire?p=${p}`, payload: { host: 'web-1', domain: 'example.com' } });
  t.equal((await retire('admin-token')).statusCode, 200, 'retire with the admin token as ?p=');
  const limited = await retire('hook-token');
  t.equal(limited.statusCode, 401, 'a token limited to databases reads, but may not retire');
  t.match(limited.json(), { code: 'CR_ADMIN_TOKEN_REQUIRED' });
});

t.test('a repeated ?p= counts by its first value for retire as for reads and writes', async (t) => {
  const relay = relayFor(t, `[auth]\nprotect_reads = true\n\n${TOKENS}`);
  t.equal(
    (await relay.app.inject({ method: 'POST', url: '/write?db=certbot&p=hook-token&p=guess', payload: 'certbot_renewal,domain=example.com,host=web-1 renewed_count=1' })).statusCode,
    204,
  );
  const retire = await relay.app.inject({
    method: 'POST',
    url: '/api/v1/renewals/retire?p=admin-token&p=admin-token',
    payload: { host: 'web-1', domain: 'example.com' },
  });
  t.equal(retire.statusCode, 200, retire.body);
  const wrongFirst = await relay.app.inject({
    method: 'POST',
    url: '/api/v1/renewals/unretire?p=guess&p=admin-token',
    payload: { host: 'web-1', domain: 'example.com' },
  });
  t.equal(wrongFirst.statusCode, 401, 'a wrong first value is refused, whatever follows');
});
