// Expect: 100-continue (curl sends it for bodies over 1 KiB): a write is told "100 Continue" only
// once its headers are accepted; refused by its headers alone, it is answered at once and the
// connection closed, so its body is never uploaded (influxd does the same).
import { connect, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import t from 'tap';
import { relayFor, storedLines } from '../support/relay.js';

/** Opens a connection, sends the head; resolves with the socket and a reader of what came back. */
async function sendHead(port: number, head: string): Promise<{ socket: Socket; received: () => string; closed: Promise<void> }> {
  const socket = await new Promise<Socket>((resolve, reject) => {
    const s = connect(port, '127.0.0.1', () => resolve(s));
    s.once('error', reject);
  });
  let text = '';
  socket.on('data', (chunk: Buffer) => (text += chunk.toString('latin1')));
  socket.on('error', () => {});
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  socket.write(head);
  return { socket, received: () => text, closed };
}

async function waitFor(check: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !check(); i++) await new Promise((resolve) => setTimeout(resolve, 10));
}

t.test('a write refused by its headers gets its answer without "100 Continue", and the connection closes', async (t) => {
  const relay = relayFor(t, '[server]\nmax_body_bytes = 2000\n[[auth.tokens]]\ntoken = "tok"\n');
  await relay.app.listen({ host: '127.0.0.1', port: 0 });
  const { port } = relay.app.server.address() as AddressInfo;
  const cases: Array<[string, string, RegExp]> = [
    ['too large for its declared length', 'POST /write?db=d&p=tok HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 50000000\r\nExpect: 100-continue\r\n\r\n', /^HTTP\/1\.1 413 /],
    ['no token', 'POST /write?db=d HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1500\r\nExpect: 100-continue\r\n\r\n', /^HTTP\/1\.1 401 /],
    ['no database (2.x: no bucket)', 'POST /api/v2/write?org=o HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Token tok\r\nContent-Length: 1500\r\nExpect: 100-continue\r\n\r\n', /^HTTP\/1\.1 400 /],
  ];
  for (const [name, head, status] of cases) {
    const conn = await sendHead(port, head);
    t.teardown(() => conn.socket.destroy());
    await Promise.race([conn.closed, new Promise((resolve) => setTimeout(resolve, 5_000))]);
    t.match(conn.received(), status, `${name}: answered at once`);
    t.notMatch(conn.received(), /100 Continue/, `${name}: never told to send the body`);
    t.match(conn.received(), /\r\nconnection: close\r\n/i, `${name}: and the connection closed`);
  }
});

t.test('an accepted write is told "100 Continue", then its body is read and stored', async (t) => {
  const relay = relayFor(t);
  await relay.app.listen({ host: '127.0.0.1', port: 0 });
  const { port } = relay.app.server.address() as AddressInfo;
  const body = Buffer.from(Array.from({ length: 40 }, (_, i) => `m,n=${i} f=${i}i ${1_000 + i}`).join('\n'));
  const conn = await sendHead(port, `POST /write?db=d HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: ${body.length}\r\nExpect: 100-continue\r\n\r\n`);
  t.teardown(() => conn.socket.destroy());
  await waitFor(() => conn.received().includes('\r\n\r\n'));
  t.match(conn.received(), /^HTTP\/1\.1 100 Continue\r\n\r\n$/, 'told to continue, nothing else yet');
  conn.socket.write(body);
  await waitFor(() => /HTTP\/1\.1 204/.test(conn.received()));
  t.match(conn.received(), /HTTP\/1\.1 204 No Content/);
  t.equal(storedLines(relay).length, 40);
});
