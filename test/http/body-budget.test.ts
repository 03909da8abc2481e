// server.max_inflight_body_bytes: the write bodies held at once are bounded.
// A write past the budget gets 503 + Retry-After and stores nothing; the
// writes already in flight are answered as usual, and the budget comes back.
import t, { type Test } from 'tap';
import { request, type ClientRequest, type IncomingMessage } from 'node:http';
import { gzipSync } from 'node:zlib';
import type { AddressInfo } from 'node:net';
import { relayFor, storedLines } from '../support/relay.js';
import type { Relay } from '../../src/app.js';

const MAX_BODY = 1000;
const BUDGET = 1500;
const config = `[server]\nmax_body_bytes = ${MAX_BODY}\nmax_inflight_body_bytes = ${BUDGET}\n`;

interface Answer {
  readonly status: number;
  readonly headers: IncomingMessage['headers'];
  readonly body: string;
}

/** A body of exactly n bytes: one point, padded in a string field. */
function bodyOfSize(n: number, tag: string): Buffer {
  const head = `m,w=${tag} s="`;
  return Buffer.from(head + 'x'.repeat(n - head.length - 1) + '"');
}

async function listening(t: Test): Promise<{ relay: Relay; port: number }> {
  const relay = relayFor(t, config);
  await relay.app.listen({ host: '127.0.0.1', port: 0 });
  return { relay, port: (relay.app.server.address() as AddressInfo).port };
}

/** Starts a write whose body is sent later (or in parts): the relay holds what it has read. */
function openWrite(port: number, path: string, headers: Record<string, string | number>): { req: ClientRequest; answer: Promise<Answer> } {
  const req = request({ host: '127.0.0.1', port, method: 'POST', path, headers, agent: false });
  const answer = new Promise<Answer>((resolve, reject) => {
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString() }));
    });
    req.on('error', reject);
  });
  req.flushHeaders();
  return { req, answer };
}

async function inflightBytes(relay: Relay): Promise<number> {
  const metrics = await relay.app.inject({ method: 'GET', url: '/metrics' });
  const match = /^certrelay_http_inflight_body_bytes (\d+)$/m.exec(metrics.body);
  return match === null ? NaN : Number(match[1]);
}

async function until(condition: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 200 && !(await condition()); i++) await new Promise((r) => setTimeout(r, 10));
}

t.test('a body past the budget gets 503 + Retry-After and stores nothing; the write in flight is stored', async (t) => {
  const { relay, port } = await listening(t);
  const first = bodyOfSize(MAX_BODY, 'first');
  const held = openWrite(port, '/write?db=d', { 'content-length': first.length });
  await new Promise((r) => setTimeout(r, 50));
  t.equal(await inflightBytes(relay), 0, 'a declared length alone holds nothing: only bytes received count');
  held.req.write(first.subarray(0, 900));
  await until(async () => (await inflightBytes(relay)) === 900);
  t.equal(await inflightBytes(relay), 900, 'the bytes received are held');

  const second = bodyOfSize(601, 'second');
  const refused = openWrite(port, '/write?db=d', { 'content-length': second.length });
  refused.req.end(second);
  const answer = await refused.answer;
  t.equal(answer.status, 503);
  t.equal(answer.headers['retry-after'], '1');
  t.match(answer.headers['x-influxdb-error'], /server\.max_inflight_body_bytes, 1500 bytes/);
  t.match(JSON.parse(answer.body).error, /retry later/);

  const v2 = await relay.app.inject({ method: 'POST', url: '/api/v2/write?bucket=d', payload: second });
  t.equal(v2.statusCode, 503, 'the 2.x endpoint shares the budget');
  t.match(JSON.parse(v2.body), { code: 'unavailable', message: /server\.max_inflight_body_bytes/ });

  held.req.end(first.subarray(900));
  t.equal((await held.answer).status, 204, 'the write in flight is answered as usual');
  t.equal(await inflightBytes(relay), 0, 'its bytes came back');
  const again = await relay.app.inject({ method: 'POST', url: '/write?db=d', payload: second });
  t.equal(again.statusCode, 204, 'the refused write, sent again, is taken');
  t.same(
    storedLines(relay).map((line) => line.split(' ', 1)[0]),
    ['m,w=first', 'm,w=second'],
    'the refused attempts stored nothing',
  );
  const metrics = await relay.app.inject({ method: 'GET', url: '/metrics' });
  t.match(metrics.body, /certrelay_write_requests_refused_total\{endpoint="v1",code="CR_BODIES_IN_FLIGHT"\} 1/);
  t.match(metrics.body, /certrelay_write_requests_refused_total\{endpoint="v2",code="CR_BODIES_IN_FLIGHT"\} 1/);
});

t.test('bodies without a declared length are held as they arrive, gzip after decompression', async (t) => {
  const { relay, port } = await listening(t);
  const first = bodyOfSize(MAX_BODY, 'first');
  const held = openWrite(port, '/write?db=d', { 'transfer-encoding': 'chunked' });
  held.req.write(first.subarray(0, 900));
  await until(async () => (await inflightBytes(relay)) === 900);
  t.equal(await inflightBytes(relay), 900, 'what was read so far is held');

  // 601 bytes of line protocol in fewer than 100 of gzip: counted as what it inflates to.
  const gzipped = gzipSync(Buffer.concat([bodyOfSize(400, 'gz'), Buffer.from('\n'), bodyOfSize(200, 'gz2')]));
  t.ok(gzipped.length < BUDGET - 900, `its compressed size alone would fit (${gzipped.length} bytes)`);
  const refused = openWrite(port, '/write?db=d', { 'content-encoding': 'gzip', 'transfer-encoding': 'chunked' });
  refused.req.end(gzipped);
  t.equal((await refused.answer).status, 503, 'refused once its decompressed bytes pass the budget');

  const fits = openWrite(port, '/write?db=d', { 'transfer-encoding': 'chunked' });
  fits.req.end(bodyOfSize(500, 'fits'));
  t.equal((await fits.answer).status, 204, 'a body within what is left is taken meanwhile');

  held.req.end(first.subarray(900));
  t.equal((await held.answer).status, 204);
  t.equal(await inflightBytes(relay), 0);
  t.same(storedLines(relay).map((line) => line.split(' ', 1)[0]).sort(), ['m,w=first', 'm,w=fits']);
});

t.test('one body of the largest size always fits, alone', async (t) => {
  const { relay } = await listening(t);
  for (let i = 0; i < 3; i++) {
    const res = await relay.app.inject({ method: 'POST', url: '/write?db=d', payload: bodyOfSize(MAX_BODY, `n${i}`) });
    t.equal(res.statusCode, 204, `write ${i}`);
  }
  t.equal(await inflightBytes(relay), 0, 'nothing leaks between writes');
});

t.test('a client gone mid-upload gives its bytes back: the budget does not leak', async (t) => {
  const { relay, port } = await listening(t);
  const kinds: Array<Record<string, string | number>> = [{ 'content-length': MAX_BODY }, { 'transfer-encoding': 'chunked' }, { 'transfer-encoding': 'chunked', 'content-encoding': 'gzip' }];
  for (const headers of kinds) {
    const gone = openWrite(port, '/write?db=d', headers);
    gone.answer.catch(() => {}); // the socket is destroyed: no answer
    const part = 'content-encoding' in headers ? gzipSync(bodyOfSize(MAX_BODY, 'gone')).subarray(0, 40) : bodyOfSize(MAX_BODY, 'gone').subarray(0, 700);
    gone.req.write(part);
    await until(async () => (await inflightBytes(relay)) > 0);
    t.ok((await inflightBytes(relay)) > 0, `${JSON.stringify(headers)}: held while it uploads`);
    gone.req.destroy();
    await until(async () => (await inflightBytes(relay)) === 0);
    t.equal(await inflightBytes(relay), 0, `${JSON.stringify(headers)}: given back once the client is gone`);
  }
  const full = await relay.app.inject({ method: 'POST', url: '/write?db=d', payload: bodyOfSize(MAX_BODY, 'after') });
  t.equal(full.statusCode, 204, 'a body of the largest size still fits');
});
