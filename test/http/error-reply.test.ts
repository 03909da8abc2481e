import t from 'tap';
import { errorHeader } from '../../src/http/error-reply.js';

t.test('X-Influxdb-Error flattens newlines and is cut at 1024 bytes, as influxd does', async (t) => {
  t.equal(errorHeader("unable to parse 'a': missing fields\nunable to parse 'b': missing fields"), "unable to parse 'a': missing fields unable to parse 'b': missing fields");
  t.equal(errorHeader('x'.repeat(5000)).length, 1024);
});

t.test('X-Influxdb-Error carries non-latin1 text as its UTF-8 bytes, never cutting a character in half', async (t) => {
  const header = errorHeader(`unable to parse 'certbot_renewal,domain=例え.jp': missing fields`);
  t.equal(Buffer.from(header, 'latin1').toString('utf8'), `unable to parse 'certbot_renewal,domain=例え.jp': missing fields`);
  const cut = errorHeader('é'.repeat(600)); // 1200 bytes of 2-byte characters
  t.equal(Buffer.from(cut, 'latin1').toString('utf8'), 'é'.repeat(512));
});

t.test('over a real socket, X-Influxdb-Error carries non-ASCII text as its UTF-8 bytes, once', async (t) => {
  const { relayFor } = await import('../support/relay.js');
  const { request } = await import('node:http');
  const relay = relayFor(t);
  await relay.app.listen({ host: '127.0.0.1', port: 0 });
  const { port } = relay.app.server.address() as import('node:net').AddressInfo;
  const rawHeader = await new Promise<Buffer>((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method: 'POST', path: '/write?db=d' }, (res) => {
      res.resume();
      const index = res.rawHeaders.findIndex((h) => h.toLowerCase() === 'x-influxdb-error');
      resolve(Buffer.from(res.rawHeaders[index + 1], 'latin1'));
    });
    req.on('error', reject);
    req.end('zertifikät');
  });
  t.equal(rawHeader.toString('utf8'), "unable to parse 'zertifikät': missing fields");
});
