import t from 'tap';
import { gzipSync } from 'node:zlib';
import { relayFor, storedLines } from '../support/relay.js';
import { fakeClock } from '../support/fake-clock.js';

const NOW_NS = 1_700_000_000_123_456_789n;
const HOOK_LINES = [
  'certbot_renewal,domain=all,host=optimus renewed_count=2 1656169934438253518',
  'certbot_renewal,domain=example.com,host=optimus renewed_count=1 1656169934438253518',
].join('\n');

t.test('the certbot hook lines are answered exactly 204, empty, and stored with their ns timestamps', async (t) => {
  const relay = relayFor(t);
  const res = await relay.app.inject({ method: 'POST', url: '/write?db=telegraf', payload: HOOK_LINES });
  t.equal(res.statusCode, 204);
  t.equal(res.body, '');
  t.same(storedLines(relay), HOOK_LINES.split('\n'));
});

t.test('every response carries X-Influxdb-Version, X-Influxdb-Build and a unique Request-Id', async (t) => {
  const relay = relayFor(t);
  const a = await relay.app.inject({ method: 'POST', url: '/write?db=x', payload: 'm v=1 1' });
  const b = await relay.app.inject({ method: 'POST', url: '/write', payload: 'm v=1 1' });
  for (const res of [a, b]) {
    t.match(res.headers['x-influxdb-version'], /^1\.6\.7-certrelay-/);
    t.equal(res.headers['x-influxdb-build'], 'OSS');
    t.match(res.headers['request-id'], /^[0-9a-f-]{36}$/);
  }
  t.not(a.headers['request-id'], b.headers['request-id']);
});

t.test('a point without timestamp is stamped with the receive time, truncated to the precision', async (t) => {
  const relay = relayFor(t, '', { clock: fakeClock(NOW_NS) });
  for (const [precision, expected] of [
    ['', '1700000000123456789'],
    ['ns', '1700000000123456789'],
    ['u', '1700000000123456000'],
    ['ms', '1700000000123000000'],
    ['s', '1700000000000000000'],
    ['m', '1699999980000000000'],
    ['h', '1699999200000000000'],
  ]) {
    const res = await relay.app.inject({ method: 'POST', url: `/write?db=d&precision=${precision}`, payload: `p${precision || 'none'} v=1` });
    t.equal(res.statusCode, 204, `precision ${precision || '(missing)'}`);
    t.equal(storedLines(relay).at(-1), `p${precision || 'none'} v=1 ${expected}`);
  }
});

t.test('explicit timestamps are scaled to nanoseconds by the precision, the rest of the line kept byte for byte', async (t) => {
  const relay = relayFor(t);
  const line = 'weird\\ name,t\\=k=v\\,1 s="a \\"q\\" b",i=-5i 1656169934';
  const res = await relay.app.inject({ method: 'POST', url: '/write?db=d&precision=s', payload: line });
  t.equal(res.statusCode, 204);
  t.same(storedLines(relay), ['weird\\ name,t\\=k=v\\,1 s="a \\"q\\" b",i=-5i 1656169934000000000']);
});

t.test('an unknown precision is a 400, not silently nanoseconds', async (t) => {
  const relay = relayFor(t);
  const res = await relay.app.inject({ method: 'POST', url: '/write?db=d&precision=nanos', payload: 'm v=1' });
  t.equal(res.statusCode, 400);
  t.match(res.json().error, /invalid precision "nanos"/);
  t.equal(res.headers['x-influxdb-error'], res.json().error);
  t.same(storedLines(relay), []);
});

t.test('a missing db is 400 "database is required"', async (t) => {
  const relay = relayFor(t);
  const res = await relay.app.inject({ method: 'POST', url: '/write', payload: 'm v=1' });
  t.equal(res.statusCode, 400);
  t.same(res.json(), { error: 'database is required' });
  t.equal(res.headers['content-type'], 'application/json; charset=utf-8');
});

t.test('a body of only bad lines is a 400 naming the line and the reason, and stores nothing', async (t) => {
  const relay = relayFor(t);
  const res = await relay.app.inject({ method: 'POST', url: '/write?db=d', payload: 'certbot_renewal,host=a' });
  t.equal(res.statusCode, 400);
  t.same(res.json(), { error: "unable to parse 'certbot_renewal,host=a': missing fields" });
  t.same(storedLines(relay), []);
});

t.test('a partial write keeps the good lines and says which failed (dropped=0: influxd does not count lines that fail to parse)', async (t) => {
  const relay = relayFor(t);
  const res = await relay.app.inject({ method: 'POST', url: '/write?db=d', payload: 'good v=1 1\nbad\ngood v=2 2' });
  t.equal(res.statusCode, 400);
  t.match(res.json().error, /^partial write: unable to parse 'bad': missing fields dropped=0$/);
  t.same(storedLines(relay), ['good v=1 1', 'good v=2 2']);
});

t.test('a field that changes type inside one request is a field type conflict; the first type is kept', async (t) => {
  const relay = relayFor(t);
  const res = await relay.app.inject({ method: 'POST', url: '/write?db=d', payload: 'm v=1 1\nm v=2i 2\nm v=3 3\nother v=4i 4' });
  t.equal(res.statusCode, 400);
  t.equal(
    res.json().error,
    'partial write: field type conflict: input field "v" on measurement "m" is type integer, already exists as type float dropped=1',
  );
  t.same(storedLines(relay), ['m v=1 1', 'm v=3 3', 'other v=4i 4']);
});

t.test('a certbot_renewal point that breaks the schema is dropped with its line, rule and value; the others are kept', async (t) => {
  const relay = relayFor(t);
  const payload = [
    'certbot_renewal,domain=example.com,host=h renewed_count=1 1656169934000000001',
    'certbot_renewal,domain=example.com,host=h renewed_count=0 1656169934000000002',
    'certbot_renewal,domain=not\\ a\\ domain,host=h renewed_count=1 1656169934000000003',
    'certbot_renewal,domain=a.example,host=h renewed_count="one" 1656169934000000004',
    'certbot_renewal,domain=b.example renewed_count=1 1656169934000000005',
    'certbot_renewal,domain=*.example.com,host=h renewed_count=1,not_after=1700000000i,not_before=1692224000i 1656169934000000006',
  ].join('\n');
  const res = await relay.app.inject({ method: 'POST', url: '/write?db=d', payload });
  t.equal(res.statusCode, 400);
  const error: string = res.json().error;
  t.match(error, /^partial write: /);
  t.match(error, /line 2: certbot_renewal field "renewed_count" must be >= 1, got 0/);
  t.match(error, /line 3: certbot_renewal tag "domain" must be a DNS name, a wildcard name or "all", got "not a domain"/);
  t.match(error, /line 4: certbot_renewal field "renewed_count" must be numeric, got string "one"/);
  t.match(error, /line 5: certbot_renewal needs a non-empty tag "host"/);
  t.match(error, / dropped=4$/);
  t.same(storedLines(relay), [
    'certbot_renewal,domain=example.com,host=h renewed_count=1 1656169934000000001',
    'certbot_renewal,domain=*.example.com,host=h renewed_count=1,not_after=1700000000i,not_before=1692224000i 1656169934000000006',
  ]);
});

t.test('a certbot_renewal timestamp more than 5 minutes in the future is refused; other measurements are not checked', async (t) => {
  const relay = relayFor(t, '', { clock: fakeClock(NOW_NS) });
  const future = NOW_NS + 301n * 1_000_000_000n;
  const soon = NOW_NS + 299n * 1_000_000_000n;
  const res = await relay.app.inject({
    method: 'POST',
    url: '/write?db=d',
    payload: `certbot_renewal,domain=a.example,host=h renewed_count=1 ${future}\ncertbot_renewal,domain=a.example,host=h renewed_count=1 ${soon}\ncpu v=1 ${future}`,
  });
  t.equal(res.statusCode, 400);
  t.match(res.json().error, /line 1: certbot_renewal timestamp \d+ is 301 s in the future/);
  t.equal(storedLines(relay).length, 2);
});

t.test('the certbot measurement name is configurable', async (t) => {
  const relay = relayFor(t, '[validation]\ncertbot_measurement = "renewals"\n');
  const res = await relay.app.inject({ method: 'POST', url: '/write?db=d', payload: 'renewals,host=h renewed_count=1 1\ncertbot_renewal,host=h renewed_count=1 1656169934000000001' });
  t.equal(res.statusCode, 400);
  t.match(res.json().error, /line 1: renewals needs a non-empty tag "domain"/);
  t.equal(storedLines(relay).length, 1);
});

t.test('any Content-Type is accepted, including none and the form type curl sends', async (t) => {
  const relay = relayFor(t);
  for (const type of [undefined, 'application/x-www-form-urlencoded', 'application/json', 'text/plain; charset=utf-8', 'application/octet-stream']) {
    const res = await relay.app.inject({ method: 'POST', url: '/write?db=d', payload: 'm v=1 1', headers: type ? { 'content-type': type } : {} });
    t.equal(res.statusCode, 204, String(type));
  }
});

t.test('rp, consistency and u/p are accepted without tokens configured', async (t) => {
  const relay = relayFor(t);
  const res = await relay.app.inject({ method: 'POST', url: '/write?db=d&rp=&consistency=one&u=root&p=root', payload: 'm v=1 1' });
  t.equal(res.statusCode, 204);
  const batch = relay.store.readBatchesAfter(0, 10)[0];
  t.equal(batch.db, 'd');
  t.equal(batch.rp, '');
});

t.test('comments and blank lines are skipped; an empty body is 204 and stores nothing', async (t) => {
  const relay = relayFor(t);
  const res = await relay.app.inject({ method: 'POST', url: '/write?db=d', payload: '# renewal report\n\nm v=1 1\n   \n# end\n' });
  t.equal(res.statusCode, 204);
  t.same(storedLines(relay), ['m v=1 1']);
  const empty = await relay.app.inject({ method: 'POST', url: '/write?db=d', payload: '' });
  t.equal(empty.statusCode, 204);
  t.equal(relay.store.readBatchesAfter(0, 10).length, 1);
});

t.test('a gzip body is decompressed; a bad gzip stream is 400 and stores nothing', async (t) => {
  const relay = relayFor(t);
  const ok = await relay.app.inject({ method: 'POST', url: '/write?db=d', payload: gzipSync(HOOK_LINES), headers: { 'content-encoding': 'gzip' } });
  t.equal(ok.statusCode, 204);
  t.same(storedLines(relay), HOOK_LINES.split('\n'));
  const bad = await relay.app.inject({ method: 'POST', url: '/write?db=d', payload: Buffer.from('not gzip at all'), headers: { 'content-encoding': 'gzip' } });
  t.equal(bad.statusCode, 400);
  t.match(bad.json().error, /request body is not valid gzip/);
  t.equal(storedLines(relay).length, 2);
});

t.test('a tag or field named "time" is refused in influxd\'s words, even next to other fields where influxd would drop it silently', async (t) => {
  const relay = relayFor(t);
  const res = await relay.app.inject({ method: 'POST', url: '/write?db=d', payload: 'm time=1,v=2 1\nm,time=x v=1 2\nm v=3 3' });
  t.equal(res.statusCode, 400);
  t.equal(
    res.json().error,
    'partial write: invalid field name: input field "time" on measurement "m" is invalid\ninvalid tag key: input tag "time" on measurement "m" is invalid dropped=2',
  );
  t.same(storedLines(relay), ['m v=3 3']);
});

t.test('consistency= is accepted when it names a level influxd knows, and refused otherwise, in its words', async (t) => {
  const relay = relayFor(t);
  for (const level of ['', 'any', 'one', 'quorum', 'all']) {
    t.equal((await relay.app.inject({ method: 'POST', url: `/write?db=d&consistency=${level}`, payload: 'm v=1 1' })).statusCode, 204, level);
  }
  const bogus = await relay.app.inject({ method: 'POST', url: '/write?db=d&consistency=bogus', payload: 'm v=1 1' });
  t.equal(bogus.statusCode, 400);
  t.same(bogus.json(), { error: 'invalid consistency level' });
});

t.test('a line with bytes that are not UTF-8 is refused by number; the others are stored byte for byte', async (t) => {
  const relay = relayFor(t);
  const payload = Buffer.concat([Buffer.from('m s="zertifikät" 1\nm s="'), Buffer.from([0xff, 0xfe]), Buffer.from('" 2\nm v=3 3')]);
  const res = await relay.app.inject({ method: 'POST', url: '/write?db=d', payload });
  t.equal(res.statusCode, 400);
  t.match(res.json().error, /^partial write: unable to parse 'm s=".*" 2': invalid UTF-8: line protocol must be UTF-8 text dropped=0$/);
  t.same(storedLines(relay), ['m s="zertifikät" 1', 'm v=3 3']);
});

t.test('a comment that is not UTF-8 is ignored, as influxd ignores it: nothing of it is stored', async (t) => {
  const relay = relayFor(t);
  // "# café" saved as Latin-1 (é is the single byte 0xe9): influxd 1.6.7 answers 204.
  const latin1Comment = Buffer.from('# caf\xe9', 'latin1');
  const withPoint = await relay.app.inject({ method: 'POST', url: '/write?db=d', payload: Buffer.concat([latin1Comment, Buffer.from('\nm v=1 1\n  '), latin1Comment]) });
  t.equal(withPoint.statusCode, 204, withPoint.body);
  const alone = await relay.app.inject({ method: 'POST', url: '/write?db=d', payload: latin1Comment });
  t.equal(alone.statusCode, 204, alone.body);
  t.same(storedLines(relay), ['m v=1 1']);
  // Inside a string that spans lines a '#' line is string text: still nothing stored.
  const inString = await relay.app.inject({ method: 'POST', url: '/write?db=d', payload: Buffer.concat([Buffer.from('m f="x\n'), latin1Comment, Buffer.from('\ny" 2')]) });
  t.equal(inString.statusCode, 400);
  t.match(inString.json().error, /invalid UTF-8 in a body whose string fields span lines/);
  t.same(storedLines(relay), ['m v=1 1']);
});

t.test('invalid UTF-8 in a body whose string fields span lines: nothing is stored, rather than a point that was never sent', async (t) => {
  const relay = relayFor(t);
  const bodies = [
    // The bad line is the middle of a string: blanking it would store m f="first\n\nlast".
    Buffer.concat([Buffer.from('m f="first\n'), Buffer.from([0x62, 0xff]), Buffer.from('\nlast" 1')]),
    // The bad line opens a string: blanking it would store its text, cpu v=1 1, as a point.
    Buffer.concat([Buffer.from('m f="'), Buffer.from([0xff]), Buffer.from('\ncpu v=1 1\nx" 5')]),
  ];
  for (const payload of bodies) {
    const res = await relay.app.inject({ method: 'POST', url: '/write?db=d', payload });
    t.equal(res.statusCode, 400);
    t.match(res.json().error, /invalid UTF-8 in a body whose string fields span lines/);
    const v2 = await relay.app.inject({ method: 'POST', url: '/api/v2/write?org=o&bucket=d', payload });
    t.equal(v2.statusCode, 400);
  }
  t.same(storedLines(relay), []);
  // Without a string across lines, a bad line is still refused alone.
  const res = await relay.app.inject({ method: 'POST', url: '/write?db=d', payload: Buffer.concat([Buffer.from('m f="x" 1\nm f="'), Buffer.from([0xff]), Buffer.from('" 2')]) });
  t.equal(res.statusCode, 400);
  t.same(storedLines(relay), ['m f="x" 1']);
});
