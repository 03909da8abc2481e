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
