// Writes pipelined on one connection are stored in the order they arrived, as influxd applies
// them: a gzip body (decompressed in the background) or a large one (prepared on a worker) sent
// first must not be committed after the plain one behind it.
import { connect } from 'node:net';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import t from 'tap';
import { ALWAYS_OFFLOAD_BODY_BYTES } from '../../src/ingest/intake.js';
import { relayFor, storedLines } from '../support/relay.js';

function post(path: string, body: Buffer, headers: Record<string, string> = {}): Buffer {
  const head = [`POST ${path} HTTP/1.1`, 'Host: 127.0.0.1', `Content-Length: ${body.length}`, ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`)];
  return Buffer.concat([Buffer.from(`${head.join('\r\n')}\r\n\r\n`), body]);
}

/** Sends the bytes at once on one connection; resolves with the status lines of the first `answers` responses. */
function pipelined(port: number, bytes: Buffer, answers: number): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(bytes));
    let received = '';
    socket.on('data', (chunk: Buffer) => {
      received += chunk.toString('latin1');
      const statuses = received.match(/^HTTP\/1\.1 \d{3}/gm) ?? [];
      if (statuses.length >= answers) {
        socket.destroy();
        resolve(statuses);
      }
    });
    socket.on('error', reject);
  });
}

t.test('a gzip write and a plain one pipelined behind it are stored in that order', async (t) => {
  const relay = relayFor(t);
  await relay.app.listen({ host: '127.0.0.1', port: 0 });
  const { port } = relay.app.server.address() as AddressInfo;
  for (let round = 0; round < 5; round++) {
    const first = post('/write?db=d', gzipSync(Buffer.from(`ord,round=${round} f=1 100\n`)), { 'Content-Encoding': 'gzip' });
    const second = post('/write?db=d', Buffer.from(`ord,round=${round} f=2 100\n`));
    t.same(await pipelined(port, Buffer.concat([first, second]), 2), ['HTTP/1.1 204', 'HTTP/1.1 204'], `round ${round}: both answered`);
  }
  const stored = storedLines(relay);
  t.same(
    stored,
    [0, 1, 2, 3, 4].flatMap((round) => [`ord,round=${round} f=1 100`, `ord,round=${round} f=2 100`]),
    'in arrival order: a target keeps f=2 for each point, as influxd does',
  );
});

t.test('a large body prepared on a worker and a small write behind it keep their order', async (t) => {
  const relay = relayFor(t);
  await relay.app.listen({ host: '127.0.0.1', port: 0 });
  const { port } = relay.app.server.address() as AddressInfo;
  // Past ALWAYS_OFFLOAD_BODY_BYTES: prepared on a worker even alone.
  const big = Array.from({ length: 200_000 }, (_, i) => `big,n=${i % 100} f=${i}i ${1_000 + i}`).join('\n');
  t.ok(big.length > ALWAYS_OFFLOAD_BODY_BYTES);
  const first = post('/write?db=d', Buffer.from(big));
  const second = post('/write?db=d', Buffer.from('small f=1 1'));
  t.same(await pipelined(port, Buffer.concat([first, second]), 2), ['HTTP/1.1 204', 'HTTP/1.1 204']);
  const stored = storedLines(relay);
  t.equal(stored.at(-1), 'small f=1 1', 'the small write is stored last');
  t.equal(stored.length, 200_001);
});

t.test('a malformed request pipelined behind a write never has its 400 read as the write\'s answer', async (t) => {
  const relay = relayFor(t);
  await relay.app.listen({ host: '127.0.0.1', port: 0 });
  const { port } = relay.app.server.address() as AddressInfo;
  const write = post('/write?db=d', Buffer.from(Array.from({ length: 20 }, (_, i) => `pg,k=${i} f=${i} ${1_000 + i}`).join('\n')));
  const broken = Buffer.from('POST /write?db=d HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nm f=1\r\n0\r\n\r\n');
  const received = await new Promise<string>((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(Buffer.concat([write, broken])));
    let text = '';
    socket.on('data', (chunk: Buffer) => (text += chunk.toString('latin1')));
    socket.on('close', () => resolve(text));
    socket.on('error', reject);
  });
  t.match(received, /^HTTP\/1\.1 204 /, 'the write is answered first, with its own 204');
  t.equal(storedLines(relay).length, 20, 'and it was stored');
});

t.test('bytes that are not HTTP on a fresh connection still get a 400', async (t) => {
  const relay = relayFor(t);
  await relay.app.listen({ host: '127.0.0.1', port: 0 });
  const { port } = relay.app.server.address() as AddressInfo;
  const received = await new Promise<string>((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.write('NOT HTTP AT ALL\r\n\r\n'));
    let text = '';
    socket.on('data', (chunk: Buffer) => (text += chunk.toString('latin1')));
    socket.on('close', () => resolve(text));
    socket.on('error', reject);
  });
  t.match(received, /^HTTP\/1\.1 400 Bad Request\r\n/);
  t.match(received, /"error":"malformed HTTP request"/);
});
