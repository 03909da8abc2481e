// Query strings are read as influxd reads them (Go's url.ParseQuery), so a URL that influxd
// refuses is not taken here to mean something else.
import { connect } from 'node:net';
import type { AddressInfo } from 'node:net';
import t from 'tap';
import { parseQueryLikeGo } from '../../src/http/query-string.js';
import { relayFor, storedLines } from '../support/relay.js';

t.test('pairs on "&", "+" as a space, a repeated key as a list; ";" and bad escapes drop their pair', async (t) => {
  const read = (query: string) => ({ ...parseQueryLikeGo(query) });
  t.same(read('db=telegraf&precision=s'), { db: 'telegraf', precision: 's' });
  t.same(read('db=a+b&rp=%2Fx'), { db: 'a b', rp: '/x' });
  t.same(read('db=a&db=b'), { db: ['a', 'b'] });
  t.same(read('db=q1;precision=s'), {}, 'Go refuses ";" as a separator: the pair is dropped');
  t.same(read('db=%zz&rp=r'), { rp: 'r' });
  t.same(read('db=q12%'), {});
  t.same(read('db=caf%C3%A9'), { db: 'café' });
  t.same(read('u&p='), { u: '', p: '' });
  t.same(read(''), {});
  t.equal(Object.getPrototypeOf(parseQueryLikeGo('__proto__=x')), null, 'no prototype to pollute');
});

t.test('a URL influxd refuses is refused: no database taken from a ";" pair or a bad escape', async (t) => {
  const relay = relayFor(t);
  for (const url of ['/write?db=q1;precision=s', '/write?db=%zz', '/write?db=q13%2']) {
    const res = await relay.app.inject({ method: 'POST', url, payload: 'm f=1 1' });
    t.equal(res.statusCode, 400, url);
    t.same(res.json(), { error: 'database is required' }, url);
  }
  t.equal((await relay.app.inject({ method: 'POST', url: '/write?db=my+db&precision=s', payload: 'm f=1 1' })).statusCode, 204);
  t.same(storedLines(relay), ['m f=1 1000000000'], 'precision=s read, into database "my db"');
});

t.test('a URL with raw bytes beyond ASCII gets a 400 that says to percent-encode it', async (t) => {
  const relay = relayFor(t);
  await relay.app.listen({ host: '127.0.0.1', port: 0 });
  const { port } = relay.app.server.address() as AddressInfo;
  const received = await new Promise<string>((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(Buffer.from('POST /write?db=café HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n\r\n', 'utf8')));
    let text = '';
    socket.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
    socket.on('close', () => resolve(text));
    socket.on('error', reject);
  });
  t.match(received, /^HTTP\/1\.1 400 /);
  t.match(received, /the URL must be percent-encoded/);
});

t.test('the renewals API refuses a filter it cannot read instead of answering every certificate', async (t) => {
  const relay = relayFor(t);
  for (const url of ['/api/v1/renewals?state=%ZZ', '/api/v1/renewals?state=overdue;x=1', '/api/v1/renewals/daily?host=web01;']) {
    const res = await relay.app.inject({ method: 'GET', url });
    t.equal(res.statusCode, 400, url);
    t.match(res.json(), { code: 'CR_BAD_RENEWAL_REQUEST', error: /cannot be read/ }, url);
  }
  t.equal((await relay.app.inject({ method: 'GET', url: '/api/v1/renewals?state=overdue' })).statusCode, 200);
});
