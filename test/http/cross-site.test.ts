// Web pages cannot write through the relay: a browser's Origin or a
// Sec-Fetch-Site other than "none" is refused on the write routes and /query, and a
// relay on loopback answers only Host names that are loopback (DNS rebinding).
import { join } from 'node:path';
import t from 'tap';
import { buildApp } from '../../src/app.js';
import { loadConfig } from '../../src/config/load.js';
import { relayFor, storedLines } from '../support/relay.js';

const LINE = 'certbot_renewal,domain=example.com,host=optimus renewed_count=1 1656169934438253518';

t.test('with no tokens, a write from a web page is refused, the relay\'s own origin too; InfluxDB clients are not', async (t) => {
  const relay = relayFor(t);
  const write = (url: string, headers: Record<string, string>) => relay.app.inject({ method: 'POST', url, headers, payload: LINE });

  const v1 = await write('/write?db=certbot', { origin: 'https://evil.example', 'content-type': 'text/plain' });
  t.equal(v1.statusCode, 403);
  t.match(v1.json().error, /^requests from a web page \("https:\/\/evil\.example"\) are refused/);
  const v2 = await write('/api/v2/write?bucket=certbot', { origin: 'null' });
  t.equal(v2.statusCode, 403);
  t.match(v2.json(), { code: 'forbidden', message: /a web page \("null"\)/ });
  t.equal((await write('/write?db=certbot', { 'sec-fetch-site': 'cross-site' })).statusCode, 403, 'a cross-site request without Origin');
  const query = await relay.app.inject({ method: 'GET', url: '/query?q=CREATE+DATABASE+x', headers: { 'sec-fetch-site': 'cross-site' } });
  t.equal(query.statusCode, 403, '/query too (an <img> could send it)');
  // The relay's page writes nothing: a page of its own origin can only be someone else's page under a re-pointed name.
  t.equal((await write('/write?db=certbot', { origin: 'http://localhost', 'sec-fetch-site': 'same-origin' })).statusCode, 403, 'the relay\'s own origin');
  t.equal((await write('/write?db=certbot', { 'sec-fetch-site': 'same-origin' })).statusCode, 403, 'a same-origin request without Origin');
  t.same(storedLines(relay), [], 'nothing was stored');

  t.equal((await write('/write?db=certbot', {})).statusCode, 204, 'a client sends no Origin');
  t.equal((await write('/write?db=certbot', { 'sec-fetch-site': 'none' })).statusCode, 204, 'Sec-Fetch-Site: none is a user, not a page');
  t.equal(storedLines(relay).length, 2);
});

t.test('a relay on loopback refuses Host names that are not loopback (DNS rebinding), on every route', async (t) => {
  const relay = relayFor(t);
  for (const [method, url] of [['GET', '/'], ['GET', '/api/v1/renewals'], ['GET', '/metrics'], ['POST', '/write?db=certbot']] as const) {
    const res = await relay.app.inject({ method, url, headers: { host: 'rebind.evil.example:8186' }, payload: method === 'POST' ? LINE : undefined });
    t.equal(res.statusCode, 403, `${method} ${url}`);
    t.match(res.body, /listens on loopback only, and the Host header \\"rebind\.evil\.example:8186\\" names another machine/);
  }
  for (const host of ['127.0.0.1.rebind.evil.example:8186', '127.evil.example', 'localhost.evil.example']) {
    t.equal((await relay.app.inject({ method: 'POST', url: '/write?db=certbot', headers: { host }, payload: LINE })).statusCode, 403, `${host}: a name that only starts like loopback`);
  }
  for (const host of ['localhost:8186', 'LOCALHOST', '127.0.0.1:8186', '[::1]:8186', '127.0.0.2', 'relay.localhost:8186', 'ip6-localhost']) {
    t.equal((await relay.app.inject({ method: 'GET', url: '/ping', headers: { host } })).statusCode, 204, host);
  }
});

t.test('a relay listening on all interfaces answers any Host (the network reaches it anyway)', async (t) => {
  const dir = t.testdir({});
  const relay = buildApp(loadConfig({ env: { CERTRELAY_STORE_PATH: join(dir, 'store'), CERTRELAY_LISTEN: '0.0.0.0:0' } }));
  t.teardown(() => relay.close());
  t.equal((await relay.app.inject({ method: 'GET', url: '/ping', headers: { host: 'relay.example.net:8186' } })).statusCode, 204);
  // DNS rebinding: a page whose name was re-pointed at the relay is, to the browser, the relay's own origin.
  const rebound = { host: 'rebind.evil.example:8186', origin: 'http://rebind.evil.example:8186', 'sec-fetch-site': 'same-origin' };
  const write = await relay.app.inject({ method: 'POST', url: '/write?db=certbot', headers: rebound, payload: LINE });
  t.equal(write.statusCode, 403, `a rebound page's write: ${write.body}`);
  const retire = await relay.app.inject({ method: 'POST', url: '/api/v1/renewals/retire', headers: rebound, payload: '{"host":"h","domain":"a.example"}' });
  t.equal(retire.statusCode, 403, `a rebound page's retire: ${retire.body}`);
});
