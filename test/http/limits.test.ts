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
