// server.max_connections: a connection past the cap is closed as it arrives,
// counted and logged; the open ones are served, and room comes back when one
// closes.
import t from 'tap';
import { connect, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { relayFor } from '../support/relay.js';
import type { Relay } from '../../src/app.js';
import { burstWarning } from '../../src/log/burst-warning.js';

async function metric(relay: Relay, name: string): Promise<number> {
  const res = await relay.app.inject({ method: 'GET', url: '/metrics' });
  const match = new RegExp(`^${name} (\\d+)$`, 'm').exec(res.body);
  return match === null ? NaN : Number(match[1]);
}

async function until(condition: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 300 && !(await condition()); i++) await new Promise((r) => setTimeout(r, 10));
}

function opened(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => resolve(socket));
    socket.once('error', reject);
  });
}

/** Sends one request on the socket; resolves with the status line, or 'closed' when the server closed it first. */
function ask(socket: Socket, path: string): Promise<string> {
  return new Promise((resolve) => {
    let received = '';
    socket.on('data', (chunk: Buffer) => {
      received += chunk.toString();
      if (received.includes('\r\n')) resolve(received.split('\r\n', 1)[0]);
    });
    socket.once('close', () => resolve(received === '' ? 'closed' : received.split('\r\n', 1)[0]));
    socket.on('error', () => {});
    socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
  });
}

t.test('past server.max_connections a new connection is closed before any request; the open ones are served', async (t) => {
  const lines: Array<{ level: number; msg: string; open?: number; maxConnections?: number; sinceLastLine?: number }> = [];
  const stream = { write: (line: string) => lines.push(JSON.parse(line)) };
  const relay = relayFor(t, '[server]\nmax_connections = 2\n', { logger: { level: 'info', stream } });
  await relay.app.listen({ host: '127.0.0.1', port: 0 });
  const { port } = relay.app.server.address() as AddressInfo;
  const first = await opened(port);
  const second = await opened(port);
  t.teardown(() => {
    first.destroy();
    second.destroy();
  });
  await until(async () => (await metric(relay, 'certrelay_http_connections')) === 2);
  t.equal(await metric(relay, 'certrelay_http_connections'), 2, 'two open');

  const third = await opened(port);
  t.equal(await ask(third, '/ping'), 'closed', 'the third is closed without an answer');
  t.equal(await metric(relay, 'certrelay_http_connections_dropped_total'), 1);
  t.equal(await ask(first, '/ping'), 'HTTP/1.1 204 No Content', 'an open connection is still served');
  t.match(lines.find((l) => l.msg.startsWith('server.max_connections reached')), { level: 40, open: 2, maxConnections: 2, sinceLastLine: 1 });

  second.destroy();
  await until(async () => (await metric(relay, 'certrelay_http_connections')) === 1);
  const fourth = await opened(port);
  t.teardown(() => fourth.destroy());
  t.equal(await ask(fourth, '/ping'), 'HTTP/1.1 204 No Content', 'once one closed, a new one is served');
});

t.test('max_connections = 0: no cap', async (t) => {
  const relay = relayFor(t, '[server]\nmax_connections = 0\n');
  await relay.app.listen({ host: '127.0.0.1', port: 0 });
  const { port } = relay.app.server.address() as AddressInfo;
  const sockets = await Promise.all(Array.from({ length: 20 }, () => opened(port)));
  t.teardown(() => sockets.forEach((s) => s.destroy()));
  const answers = await Promise.all(sockets.map((s) => ask(s, '/ping')));
  t.same(new Set(answers), new Set(['HTTP/1.1 204 No Content']), 'all 20 served');
  t.equal(await metric(relay, 'certrelay_http_connections_dropped_total'), 0);
});

t.test('a burst warning: the first at once, then one per interval with the count since the last line', async (t) => {
  const logged: Array<{ obj: object; msg: string }> = [];
  const warn = burstWarning((obj, msg) => logged.push({ obj, msg }), 'burst', 50);
  warn({ a: 1 });
  warn({ a: 2 });
  warn({ a: 3 });
  t.same(logged, [{ obj: { a: 1, sinceLastLine: 1 }, msg: 'burst' }]);
  await new Promise((r) => setTimeout(r, 60));
  warn({ a: 4 });
  t.same(logged[1], { obj: { a: 4, sinceLastLine: 3 }, msg: 'burst' }, 'the two held back and this one');
});
