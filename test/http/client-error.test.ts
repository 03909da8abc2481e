// Requests Node's HTTP parser ends before any route sees them get InfluxDB's
// error shape and headers, over a real socket.
import { connect, type AddressInfo } from 'node:net';
import { PassThrough } from 'node:stream';
import t from 'tap';
import { clientErrorHandler } from '../../src/http/client-error.js';
import { relayFor } from '../support/relay.js';

/** Sends raw bytes and reads until the server closes the connection. */
function raw(port: number, bytes: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(bytes));
    let answer = '';
    socket.on('data', (chunk: Buffer) => (answer += chunk.toString('latin1')));
    socket.on('close', () => resolve(answer));
    socket.on('error', reject);
  });
}

function parse(answer: string): { status: number; headers: Map<string, string>; body: string } {
  const [head, body = ''] = answer.split('\r\n\r\n');
  const [statusLine, ...lines] = head.split('\r\n');
  const headers = new Map(lines.map((line) => [line.slice(0, line.indexOf(':')).toLowerCase(), line.slice(line.indexOf(':') + 1).trim()]));
  return { status: Number(statusLine.split(' ')[1]), headers, body };
}

t.test('a malformed request and oversized headers are answered as influxd-style JSON errors with the usual headers', async (t) => {
  const relay = relayFor(t);
  await relay.app.listen({ host: '127.0.0.1', port: 0 });
  const { port } = relay.app.server.address() as AddressInfo;

  for (const [bytes, status, message] of [
    ['NOT HTTP AT ALL\r\n\r\n', 400, 'malformed HTTP request'],
    [`POST /write?db=d HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`, 431, 'request header fields too large'],
  ] as const) {
    const answer = parse(await raw(port, bytes));
    t.equal(answer.status, status);
    t.same(JSON.parse(answer.body), { error: message });
    t.equal(answer.headers.get('x-influxdb-error'), message);
    t.match(answer.headers.get('x-influxdb-version'), /^1\.6\.7-certrelay-/);
    t.equal(answer.headers.get('x-influxdb-build'), 'OSS');
    t.match(answer.headers.get('request-id'), /^[0-9a-f-]{36}$/);
    t.match(answer.headers.get('content-type'), /^application\/json/);
  }
});

t.test('an upload unfinished at the request timeout gets 408 saying nothing was stored', async (t) => {
  const socket = new PassThrough();
  let written = '';
  socket.on('data', (chunk: Buffer) => (written += chunk.toString('latin1')));
  socket.on('error', () => {}); // destroyed with the timeout as its error, as Node's server does
  clientErrorHandler({ headersMs: 60_000, requestMs: 300_000 })(Object.assign(new Error('timeout'), { code: 'ERR_HTTP_REQUEST_TIMEOUT' }), socket);
  await new Promise((resolve) => setImmediate(resolve));
  const answer = parse(written);
  t.equal(answer.status, 408);
  t.same(JSON.parse(answer.body), { error: 'the request did not arrive in time (its headers within 60 s, all of it within 300 s); nothing of it was stored' });
  t.ok(socket.destroyed, 'and the connection is closed');
});

t.test('a client that goes away mid-upload is not logged as an error', async (t) => {
  const lines: Array<{ level: number; msg: string }> = [];
  const stream = { write: (line: string) => lines.push(JSON.parse(line) as { level: number; msg: string }) };
  const relay = relayFor(t, '', { logger: { level: 'debug', stream } });
  await relay.app.listen({ host: '127.0.0.1', port: 0 });
  const { port } = relay.app.server.address() as AddressInfo;
  await new Promise<void>((resolve) => {
    const socket = connect(port, '127.0.0.1', () => {
      socket.write('POST /write?db=d HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1000\r\n\r\nm v=1');
      setTimeout(() => socket.destroy(), 100);
    });
    socket.on('close', () => resolve());
  });
  const deadline = Date.now() + 2000;
  while (!lines.some((l) => l.msg === 'client went away before its request was read') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  t.ok(lines.some((l) => l.level === 20 && l.msg === 'client went away before its request was read'), 'at debug level');
  t.same(lines.filter((l) => l.level >= 50), [], 'no error line');
});
