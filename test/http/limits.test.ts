import t from 'tap';
import { request } from 'node:http';
import { gzipSync } from 'node:zlib';
import type { AddressInfo } from 'node:net';
import { relayFor, storedLines } from '../support/relay.js';

const LIMIT = 1024;
const config = `[server]\nmax_body_bytes = ${LIMIT}\n`;

/** A body of exactly n bytes of valid line protocol. */
function bodyOfSize(n: number): string {
  const head = 'm v=1 1\nm s="';
  return head + 'x'.repeat(n - head.length - 1) + '"';
}

t.test('a body of exactly max_body_bytes is accepted; one byte more is 413 and nothing is stored', async (t) => {
  const relay = relayFor(t, config);
  const exact = await relay.app.inject({ method: 'POST', url: '/write?db=d', payload: bodyOfSize(LIMIT) });
  t.equal(exact.statusCode, 204);
  const over = await relay.app.inject({ method: 'POST', url: '/write?db=d', payload: bodyOfSize(LIMIT + 1) });
  t.equal(over.statusCode, 413);
  t.match(over.json().error, /request body too large: the limit is 1024 bytes/);
  t.equal(storedLines(relay).length, 2);
});

t.test('413 in the 2.x format on /api/v2/write', async (t) => {
  const relay = relayFor(t, config);
  const over = await relay.app.inject({ method: 'POST', url: '/api/v2/write?org=o&bucket=b', payload: bodyOfSize(LIMIT + 1) });
  t.equal(over.statusCode, 413);
  t.equal(over.json().code, 'request too large');
});

t.test('a gzip bomb is cut off at the decompressed limit with 413', async (t) => {
  const limit = 64 * 1024;
  const relay = relayFor(t, `[server]\nmax_body_bytes = ${limit}\n`);
  const bomb = gzipSync(Buffer.from(`m s="${'x'.repeat(50 * 1024 * 1024)}"`), { level: 9 });
  t.ok(bomb.length < limit, `the compressed bomb (${bomb.length} bytes) fits under the limit`);
  const before = process.memoryUsage().rss;
  const res = await relay.app.inject({ method: 'POST', url: '/write?db=d', payload: bomb, headers: { 'content-encoding': 'gzip' } });
  t.equal(res.statusCode, 413);
  t.ok(process.memoryUsage().rss - before < 40 * 1024 * 1024, 'the 50 MiB it would inflate to were never held');
  t.same(storedLines(relay), []);
  const exact = await relay.app.inject({ method: 'POST', url: '/write?db=d', payload: gzipSync(bodyOfSize(limit)), headers: { 'content-encoding': 'gzip' } });
  t.equal(exact.statusCode, 204, 'a gzip body that inflates to exactly the limit is accepted');
});

t.test('a chunked body without Content-Length that grows past the limit is 413 over a real connection', async (t) => {
  const relay = relayFor(t, config);
  await relay.app.listen({ host: '127.0.0.1', port: 0 });
  const { port } = relay.app.server.address() as AddressInfo;
  const status = await new Promise<{ code: number; body: string }>((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method: 'POST', path: '/write?db=d', headers: { 'transfer-encoding': 'chunked' } }, (res) => {
      let body = '';
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ code: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    for (let i = 0; i < 10; i++) req.write(`m v=${i} ${i}\n`.padEnd(200, ' '));
    req.end();
  });
  t.equal(status.code, 413);
  t.match(JSON.parse(status.body).error, /request body too large/);
  t.same(storedLines(relay), []);
});

t.test('an unknown Content-Encoding is refused with 415', async (t) => {
  const relay = relayFor(t, config);
  const res = await relay.app.inject({ method: 'POST', url: '/write?db=d', payload: 'm v=1', headers: { 'content-encoding': 'br' } });
  t.equal(res.statusCode, 415);
});

t.test('a request must arrive within 5 minutes: the server is told (fastify sets no limit of its own)', async (t) => {
  const relay = relayFor(t);
  await relay.app.ready();
  t.equal(relay.app.server.requestTimeout, 300_000);
});

t.test('a small body of very many bad lines gets a small answer: the first 100 problems listed, the rest counted', async (t) => {
  const relay = relayFor(t);
  const bad = gzipSync(Buffer.from('bad\n'.repeat(1_000_000)));
  t.ok(bad.length < 10_000, `${bad.length} bytes of gzip`);
  for (const url of ['/write?db=d', '/api/v2/write?bucket=d']) {
    const res = await relay.app.inject({ method: 'POST', url, headers: { 'content-encoding': 'gzip' }, payload: bad });
    t.equal(res.statusCode, 400, url);
    t.ok(res.body.length < 10_000, `${url}: ${res.body.length} bytes of answer, not ~38 MB`);
    const message: string = url.startsWith('/write') ? res.json().error : res.json().message;
    const lines = message.split('\n');
    t.equal(lines.length, 101);
    t.equal(lines[0], "unable to parse 'bad': missing fields");
    t.equal(lines[100], '… and 999900 more lines that could not be parsed');
  }
  const metrics = await relay.app.inject({ method: 'GET', url: '/metrics' });
  t.match(metrics.body, /certrelay_points_rejected_total\{endpoint="v1",reason="parse"\} 1000000/, 'every line counted');

  // Points that parse but break the schema: listed up to 100, dropped= counts them all, the good one is kept.
  const schema = ['good v=1 1', ...Array.from({ length: 250 }, (_, i) => `certbot_renewal,domain=d${i}.example,host=h renewed_count=0 ${i + 2}`)].join('\n');
  const partial = await relay.app.inject({ method: 'POST', url: '/write?db=d', payload: schema });
  t.equal(partial.statusCode, 400);
  const text: string = partial.json().error;
  t.match(text, /^partial write: /);
  t.match(text, /\n… and 150 more points refused dropped=250$/);
  t.equal(text.split('\n').length, 101);
  t.same(storedLines(relay), ['good v=1 1']);
});

t.test('refused points of two kinds are listed together, the first 100 in line order', async (t) => {
  const relay = relayFor(t);
  const conflicts = Array.from({ length: 150 }, (_, i) => `m v=1.5 ${i + 2}`); // v is an integer from the first line on
  const schema = Array.from({ length: 150 }, (_, i) => `certbot_renewal,domain=d${i}.example,host=h renewed_count=0 ${i + 200}`);
  const res = await relay.app.inject({ method: 'POST', url: '/write?db=d', payload: ['m v=1i 1', ...conflicts, ...schema].join('\n') });
  t.equal(res.statusCode, 400);
  const lines = (res.json().error as string).split('\n');
  t.equal(lines.length, 101, 'the first 100 refused points, then the count of the rest');
  t.ok(lines.slice(0, 100).every((l) => /field type conflict/.test(l)), 'all 100 are the earlier lines: the type conflicts');
  t.equal(lines[100], '… and 200 more points refused dropped=300');
});
