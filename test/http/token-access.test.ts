// auth.tokens[].access: "write" tokens (hooks, Telegraf) write and read nothing under
// protect_reads; "read" tokens (a scrape, a dashboard) read and write nothing;
// "read-write" (the default) does both, and only such a token without databases
// may retire or snooze.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { loadConfig } from '../../src/config/load.js';
import { relayFor } from '../support/relay.js';

const TOKENS = [
  '[[auth.tokens]]\ntoken = "admin-token"',
  '[[auth.tokens]]\ntoken = "hook-token"\ndatabases = ["certbot"]\naccess = "write"',
  '[[auth.tokens]]\ntoken = "fleet-writer"\naccess = "write"',
  '[[auth.tokens]]\ntoken = "scrape-token"\naccess = "read"',
].join('\n\n');
const PROTECTED = `[auth]\nprotect_reads = true\n\n${TOKENS}\n`;
const READS = ['/', '/assets/uPlot.min.css', '/api/v1/renewals', '/api/v1/renewals/daily', '/metrics'];
const CERTBOT_LINE = 'certbot_renewal,domain=example.com,host=web-1 renewed_count=1';
const CHALLENGE = 'Basic realm="certrelay", charset="UTF-8"';

t.test('a write-only token writes, and under protect_reads reads nothing (401 with the challenge, so a browser asks again)', async (t) => {
  const relay = relayFor(t, PROTECTED);
  const written = await relay.app.inject({ method: 'POST', url: '/write?db=certbot', headers: { authorization: 'Token hook-token' }, payload: CERTBOT_LINE });
  t.equal(written.statusCode, 204);
  for (const token of ['hook-token', 'fleet-writer']) {
    for (const url of READS) {
      const res = await relay.app.inject({ method: 'GET', url, headers: { authorization: `Bearer ${token}` } });
      t.equal(res.statusCode, 401, `${url} with ${token}`);
      t.equal(res.headers['www-authenticate'], CHALLENGE, `${url}: a browser asks for another token`);
      t.match(JSON.parse(res.body), { error: /may only write \(auth\.tokens access = "write"\)/ }, `${url}: says why`);
    }
    t.equal((await relay.app.inject({ method: 'GET', url: `/metrics?p=${token}` })).statusCode, 401, `?p=${token} reads nothing either`);
  }
  for (const token of ['admin-token', 'scrape-token']) {
    t.equal((await relay.app.inject({ method: 'GET', url: '/api/v1/renewals', headers: { authorization: `Bearer ${token}` } })).statusCode, 200, `${token} reads`);
  }
  const api = await relay.app.inject({ method: 'GET', url: '/api/v1/renewals', headers: { authorization: 'Bearer scrape-token' } });
  t.match(api.json(), { certificates: [{ host: 'web-1', domain: 'example.com' }] }, 'what the hook wrote is there');
});

t.test('without protect_reads, reads stay open to everyone, write-only tokens included', async (t) => {
  const relay = relayFor(t, TOKENS);
  for (const url of READS) {
    t.equal((await relay.app.inject({ method: 'GET', url, headers: { authorization: 'Bearer hook-token' } })).statusCode, 200, url);
  }
});

t.test('a read-only token may not write: 403 in each API format, CREATE DATABASE included, and nothing is stored', async (t) => {
  const relay = relayFor(t, PROTECTED);
  const v1 = await relay.app.inject({ method: 'POST', url: '/write?db=certbot', headers: { authorization: 'Token scrape-token' }, payload: CERTBOT_LINE });
  t.equal(v1.statusCode, 403);
  t.match(v1.json(), { error: /may only read \(auth\.tokens access = "read"\)/ }, '1.x: {"error": …}');
  t.match(v1.headers['x-influxdb-error'], /may only read/);
  const v1p = await relay.app.inject({ method: 'POST', url: '/write?db=certbot&u=x&p=scrape-token', payload: CERTBOT_LINE });
  t.equal(v1p.statusCode, 403, '?p= too');
  const v2 = await relay.app.inject({ method: 'POST', url: '/api/v2/write?bucket=certbot', headers: { authorization: 'Token scrape-token' }, payload: CERTBOT_LINE });
  t.equal(v2.statusCode, 403);
  t.match(v2.json(), { code: 'forbidden', message: /may only read/ }, '2.x: {"code", "message"}');
  const create = await relay.app.inject({ method: 'POST', url: '/query', headers: { authorization: 'Token scrape-token' }, payload: 'q=CREATE DATABASE certbot' });
  t.equal(create.statusCode, 403, 'CREATE DATABASE is a write');
  t.match(create.json(), { error: /may only read/ });
  t.match(create.headers['x-influxdb-error'], /may only read/);
  const show = await relay.app.inject({ method: 'POST', url: '/query', headers: { authorization: 'Token scrape-token' }, payload: 'q=SHOW DATABASES' });
  t.notMatch(show.body, /certbot/, 'and lists none');
  const api = await relay.app.inject({ method: 'GET', url: '/api/v1/renewals', headers: { authorization: 'Bearer scrape-token' } });
  t.same(api.json().certificates, [], 'nothing was stored');
  const metrics = await relay.app.inject({ method: 'GET', url: '/metrics', headers: { authorization: 'Bearer scrape-token' } });
  t.match(metrics.body, /^certrelay_write_requests_refused_total\{endpoint="v1",code="CR_READ_ONLY_TOKEN"\} 2$/m, 'the refused writes are counted');
  t.match(metrics.body, /^certrelay_write_requests_refused_total\{endpoint="v2",code="CR_READ_ONLY_TOKEN"\} 1$/m);
});

for (const protectReads of [false, true]) {
  t.test(`retire and snooze need a read-write token without databases (protect_reads = ${protectReads})`, async (t) => {
    const relay = relayFor(t, protectReads ? PROTECTED : TOKENS);
    t.equal((await relay.app.inject({ method: 'POST', url: '/write?db=certbot', headers: { authorization: 'Token hook-token' }, payload: CERTBOT_LINE })).statusCode, 204);
    const act = (path: string, token: string) =>
      relay.app.inject({ method: 'POST', url: `/api/v1/renewals/${path}`, headers: { authorization: `Bearer ${token}` }, payload: { host: 'web-1', domain: 'example.com', for_hours: 1 } });
    for (const path of ['retire', 'snooze']) {
      for (const [token, who] of [
        ['scrape-token', 'a read-only token'],
        ['fleet-writer', 'a write-only token, though limited to no database'],
        ['hook-token', 'a write-only token limited to a database'],
      ]) {
        const refused = await act(path, token);
        t.equal(refused.statusCode, 401, `${path}: ${who} may not silence alerts`);
        t.match(refused.json(), { code: 'CR_ADMIN_TOKEN_REQUIRED', error: /access = "read-write"/ }, `${path}: ${who}: says which token it needs`);
      }
      t.notOk(relay.renewals.get('web-1', 'example.com')?.retired, `${path}: nothing was retired`);
      const missing = await relay.app.inject({ method: 'POST', url: `/api/v1/renewals/${path}`, payload: { host: 'web-1', domain: 'example.com', for_hours: 1 } });
      t.match(missing.json(), { code: 'CR_UNAUTHORIZED' }, `${path}: no token at all`);
    }
    t.equal((await act('retire', 'admin-token')).statusCode, 200, 'the default access may');
    t.ok(relay.renewals.get('web-1', 'example.com')?.retired);
  });
}

t.test('access is checked at start-up', async (t) => {
  const dir = t.testdir();
  let files = 0;
  const loadToml = (toml: string, env: Record<string, string> = {}) => {
    const file = join(dir, `config-${files++}.toml`);
    writeFileSync(file, toml);
    return loadConfig({ file, env });
  };
  const load = (toml: string) => () => loadToml(toml);
  t.throws(load('[[auth.tokens]]\ntoken = "a"\naccess = "admin"\n'), /auth\.tokens\[0\]\.access.*"read-write", "write" or "read"|auth\.tokens\[0\]\.access/);
  t.throws(load('[[auth.tokens]]\ntoken = "a"\naccess = "read"\ndatabases = ["x"]\n'), /auth\.tokens\[0\]\.databases: a token with access = "read" writes nowhere/);
  t.throws(
    load('[auth]\nprotect_reads = true\n[[auth.tokens]]\ntoken = "a"\naccess = "write"\n'),
    /auth\.protect_reads: needs a token that may read/,
  );
  t.doesNotThrow(load('[auth]\nprotect_reads = true\n[[auth.tokens]]\ntoken = "a"\naccess = "write"\n[[auth.tokens]]\ntoken = "b"\naccess = "read"\n'));
  const config = loadToml('[[auth.tokens]]\ntoken = "a"\n', { CERTRELAY_AUTH_TOKEN: 'b' });
  t.same(config.auth.tokens.map((token) => token.access), ['read-write', 'read-write'], 'the default, and the token from the environment');
});
