import t from 'tap';
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { relayFor } from '../support/relay.js';

const spec = parse(readFileSync(new URL('../../openapi.yaml', import.meta.url), 'utf8')) as { paths: Record<string, Record<string, unknown>> };
const documented = Object.entries(spec.paths).flatMap(([path, methods]) => Object.keys(methods).map((m) => `${m.toUpperCase()} ${path}`));

t.test('openapi.yaml and the routes describe the same paths and methods', async (t) => {
  const relay = relayFor(t);
  await relay.app.ready();
  const served = relay.routes.filter((r) => !r.startsWith('OPTIONS '));
  t.ok(served.length > 0);
  t.same([...new Set(served)].sort(), [...documented].sort());
});

interface Operation {
  readonly responses?: Record<string, { headers?: Record<string, unknown> } | undefined>;
}
const operation = (method: string, path: string): Operation | undefined =>
  (spec.paths[path] as Record<string, Operation> | undefined)?.[method.toLowerCase()];

const ADMIN = 'Token admin-secret';
const WRITER = 'Token writer-secret';
const TOKENS = '[[auth.tokens]]\ntoken = "admin-secret"\n\n[[auth.tokens]]\ntoken = "writer-secret"\ndatabases = ["d"]\n';
const CERTIFICATE = JSON.stringify({ host: 'optimus', domain: 'example.com' });
const big = 'x'.repeat(2 * 1024 * 1024);

// Requests that provoke each kind of answer the routes give; every answer must be one openapi.yaml lists for its operation.
const cases: Array<{ name: string; method: 'GET' | 'POST' | 'HEAD'; url: string; path?: string; headers?: Record<string, string>; payload?: string }> = [
  { name: 'a good 1.x write', method: 'POST', url: '/write?db=d', headers: { authorization: WRITER }, payload: 'm v=1 1' },
  { name: 'a 1.x write that does not parse', method: 'POST', url: '/write?db=d', headers: { authorization: WRITER }, payload: 'm' },
  { name: 'a partial 1.x write', method: 'POST', url: '/write?db=d', headers: { authorization: WRITER }, payload: 'm v=1 1\nm' },
  { name: 'a 1.x write without db', method: 'POST', url: '/write', headers: { authorization: WRITER }, payload: 'm v=1 1' },
  { name: 'a 1.x write with a bad precision', method: 'POST', url: '/write?db=d&precision=x', headers: { authorization: WRITER }, payload: 'm v=1 1' },
  { name: 'a 1.x write without a token', method: 'POST', url: '/write?db=d', payload: 'm v=1 1' },
  { name: 'a 1.x write to a database the token lacks', method: 'POST', url: '/write?db=other', headers: { authorization: WRITER }, payload: 'm v=1 1' },
  { name: 'a 1.x write that is not gzip', method: 'POST', url: '/write?db=d', headers: { authorization: WRITER, 'content-encoding': 'gzip' }, payload: 'm v=1 1' },
  { name: 'a 1.x write in an unknown encoding', method: 'POST', url: '/write?db=d', headers: { authorization: WRITER, 'content-encoding': 'br' }, payload: 'm v=1 1' },
  { name: 'a good 2.x write', method: 'POST', url: '/api/v2/write?org=o&bucket=d', headers: { authorization: WRITER }, payload: 'm v=1 1' },
  { name: 'a 2.x write that does not parse', method: 'POST', url: '/api/v2/write?org=o&bucket=d', headers: { authorization: WRITER }, payload: 'm' },
  { name: 'a 2.x write breaking the certbot_renewal schema', method: 'POST', url: '/api/v2/write?org=o&bucket=d', headers: { authorization: WRITER }, payload: 'certbot_renewal,host=h renewed_count=1 1656169934000000001' },
  { name: 'a 2.x write without bucket', method: 'POST', url: '/api/v2/write?org=o', headers: { authorization: WRITER }, payload: 'm v=1 1' },
  { name: 'a 2.x write without a token', method: 'POST', url: '/api/v2/write?org=o&bucket=d', payload: 'm v=1 1' },
  { name: 'a ping', method: 'GET', url: '/ping' },
  { name: 'a verbose ping', method: 'GET', url: '/ping?verbose=true' },
  { name: 'a HEAD ping', method: 'HEAD', url: '/ping' },
  { name: 'health', method: 'GET', url: '/health' },
  { name: 'readiness', method: 'GET', url: '/ready' },
  { name: 'SHOW DATABASES', method: 'GET', url: '/query?q=SHOW%20DATABASES', headers: { authorization: WRITER } },
  { name: 'CREATE DATABASE by form', method: 'POST', url: '/query', headers: { authorization: WRITER, 'content-type': 'application/x-www-form-urlencoded' }, payload: 'q=CREATE%20DATABASE%20d' },
  { name: 'a query it does not answer', method: 'GET', url: '/query?q=SELECT%20*%20FROM%20m', headers: { authorization: WRITER } },
  { name: 'a query without q', method: 'GET', url: '/query', headers: { authorization: WRITER } },
  { name: 'a query without a token', method: 'GET', url: '/query?q=SHOW%20DATABASES' },
  { name: 'a query body over 1 MiB', method: 'POST', url: '/query', headers: { authorization: WRITER, 'content-type': 'application/x-www-form-urlencoded' }, payload: `q=${big}` },
  { name: 'metrics', method: 'GET', url: '/metrics' },
  { name: 'the renewals', method: 'GET', url: '/api/v1/renewals' },
  { name: 'the renewals in an unknown state', method: 'GET', url: '/api/v1/renewals?state=bogus' },
  { name: 'the daily renewals', method: 'GET', url: '/api/v1/renewals/daily' },
  { name: 'the daily renewals over a bad window', method: 'GET', url: '/api/v1/renewals/daily?days=-1' },
  { name: 'retiring a known certificate', method: 'POST', url: '/api/v1/renewals/retire', headers: { authorization: ADMIN, 'content-type': 'application/json' }, payload: CERTIFICATE },
  { name: 'retiring an unknown certificate', method: 'POST', url: '/api/v1/renewals/retire', headers: { authorization: ADMIN, 'content-type': 'application/json' }, payload: JSON.stringify({ host: 'nobody', domain: 'example.org' }) },
  { name: 'retiring without a body', method: 'POST', url: '/api/v1/renewals/retire', headers: { authorization: ADMIN } },
  { name: 'retiring with a writer token', method: 'POST', url: '/api/v1/renewals/retire', headers: { authorization: WRITER, 'content-type': 'application/json' }, payload: CERTIFICATE },
  { name: 'retiring with the token in ?p=', method: 'POST', url: '/api/v1/renewals/unretire?p=admin-secret', headers: { 'content-type': 'application/json' }, payload: CERTIFICATE, path: '/api/v1/renewals/unretire' },
  { name: 'snoozing without until', method: 'POST', url: '/api/v1/renewals/snooze', headers: { authorization: ADMIN, 'content-type': 'application/json' }, payload: CERTIFICATE },
  { name: 'unsnoozing', method: 'POST', url: '/api/v1/renewals/unsnooze', headers: { authorization: ADMIN, 'content-type': 'application/json' }, payload: CERTIFICATE },
  { name: 'an oversized renewal action', method: 'POST', url: '/api/v1/renewals/snooze', headers: { authorization: ADMIN, 'content-type': 'application/json' }, payload: big },
  { name: 'the web page', method: 'GET', url: '/' },
  { name: "uPlot's script", method: 'GET', url: '/assets/uPlot.iife.min.js' },
];

t.test('every answer a route gives is one openapi.yaml lists for it', async (t) => {
  const relay = relayFor(t, TOKENS);
  await relay.app.inject({ method: 'POST', url: '/write?db=d', headers: { authorization: WRITER }, payload: 'certbot_renewal,domain=example.com,host=optimus renewed_count=1 1656169934438253518' });
  const seen = new Set<string>();
  for (const c of cases) {
    const path = c.path ?? c.url.split('?')[0];
    const op = operation(c.method, path);
    const res = await relay.app.inject({ method: c.method, url: c.url, headers: c.headers, payload: c.payload });
    seen.add(`${c.method} ${path} ${res.statusCode}`);
    t.ok(op?.responses?.[String(res.statusCode)], `${c.name}: ${c.method} ${c.url} answered ${res.statusCode}, documented: ${Object.keys(op?.responses ?? {}).join(', ')}`);
    for (const header of Object.keys(op?.responses?.[String(res.statusCode)]?.headers ?? {})) {
      t.ok(res.headers[header.toLowerCase()] !== undefined, `${c.name}: the documented ${header} header is sent`);
    }
  }
  t.comment(`${seen.size} distinct method, path and status combinations answered`);
  // The table reaches every operation, so a new route without a case here shows up.
  const reached = new Set([...seen].map((s) => s.split(' ').slice(0, 2).join(' ')));
  t.same(documented.filter((op) => !reached.has(op) && !op.startsWith('GET /assets/')), [], 'every documented operation was exercised');
});
