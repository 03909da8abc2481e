import t from 'tap';
import { parseLines } from '../../src/line-protocol/parse.js';
import { checkSchema, isCertificateDomain } from '../../src/ingest/validate.js';
import { fullCollection } from '../../src/ops/idle-collection.js';

const NOW = 1_700_000_000_000_000_000n;
const rules = { certbotMeasurement: 'certbot_renewal', maxFutureNs: 300n * 1_000_000_000n };

function check(line: string, ts = NOW) {
  const { points, errors } = parseLines(line);
  if (errors.length > 0) throw new Error(`test line does not parse: ${errors[0].reason}`);
  return checkSchema(points[0], ts, NOW, rules);
}

t.test('certificate domains: DNS names in ASCII or Unicode form, wildcards, and "all"', async (t) => {
  const table: Array<[string, boolean]> = [
    ['example.com', true],
    ['www.example.com', true],
    ['*.example.com', true],
    ['all', true],
    ['bücher.example', true],
    ['例え.jp', true],
    ['xn--bcher-kva.example', true],
    ['localhost', true],
    ['a-b.example', true],
    ['', false],
    ['*', false],
    ['*.', false],
    ['example.com.', false],
    ['exa mple.com', false],
    ['-a.example', false],
    ['a-.example', false],
    ['a..example', false],
    ['*.*.example.com', false],
    ['foo.*.example.com', false],
    ['192.168.1.1', false],
    ['under_score.example', false],
    [`${'a'.repeat(64)}.example`, false],
    [`${'a.'.repeat(130)}example`, false],
  ];
  for (const [domain, ok] of table) t.equal(isCertificateDomain(domain), ok, JSON.stringify(domain));
});

t.test('checkSchema accepts the hook lines and refuses each broken rule by name', async (t) => {
  const table: Array<[string, string | undefined]> = [
    ['certbot_renewal,domain=all,host=optimus renewed_count=2', undefined],
    ['certbot_renewal,domain=example.com,host=optimus renewed_count=1', undefined],
    ['certbot_renewal,domain=example.com,host=optimus renewed_count=1i', undefined],
    ['certbot_renewal,domain=example.com,host=optimus renewed_count=1u', undefined],
    ['certbot_renewal,domain=example.com,host=h renewed_count=1,not_after=1700000000i,not_before=1692224000i', undefined],
    ['certbot_renewal,host=h renewed_count=1', 'domain-required'],
    ['certbot_renewal,domain=bad\\ name,host=h renewed_count=1', 'domain-format'],
    ['certbot_renewal,domain=example.com renewed_count=1', 'host-required'],
    ['certbot_renewal,domain=example.com,host=a\rBcc:\\ x@evil.example renewed_count=1', 'host-format'],
    ['certbot_renewal,domain=example.com,host=a\x1b[31mred renewed_count=1', 'host-format'],
    ['certbot_renewal,domain=example.com,host=h other=1', 'renewed-count-required'],
    ['certbot_renewal,domain=example.com,host=h renewed_count=true', 'renewed-count-numeric'],
    ['certbot_renewal,domain=example.com,host=h renewed_count="1"', 'renewed-count-numeric'],
    ['certbot_renewal,domain=example.com,host=h renewed_count=0', 'renewed-count-min'],
    ['certbot_renewal,domain=example.com,host=h renewed_count=0.5', 'renewed-count-min'],
    ['certbot_renewal,domain=example.com,host=h renewed_count=-1i', 'renewed-count-min'],
    ['certbot_renewal,domain=example.com,host=h renewed_count=1,not_after=1.7e9', 'not-after-integer'],
    ['certbot_renewal,domain=example.com,host=h renewed_count=1,not_before="x"', 'not-before-integer'],
    ['certbot_renewal,domain=example.com,host=h renewed_count=1,not_after=5i,not_before=5i', 'certificate-dates-order'],
    ['certbot_renewal,domain=example.com,host=h renewed_count=1,not_after=0i', undefined],
    ['certbot_renewal,domain=example.com,host=h renewed_count=1,not_after=253402300799i', undefined],
    ['certbot_renewal,domain=example.com,host=h renewed_count=1,not_after=253402300800i', 'not-after-range'],
    ['certbot_renewal,domain=example.com,host=h renewed_count=1,not_after=1795882279990i', 'not-after-range'],
    ['certbot_renewal,domain=example.com,host=h renewed_count=1,not_after=1795882279990000000i', 'not-after-range'],
    ['certbot_renewal,domain=example.com,host=h renewed_count=1,not_after=18446744073709551615u', 'not-after-range'],
    ['certbot_renewal,domain=example.com,host=h renewed_count=1,not_before=-1i', 'not-before-range'],
    ['certbot_renewal,domain=example.com,host=h renewed_count=1,not_after=-9000000000000i,not_before=-9100000000000i', 'not-after-range'],
    ['cpu,host=h usage=0', undefined],
  ];
  for (const [line, rule] of table) t.equal(check(line)?.rule, rule, line);
});

t.test('the future-timestamp rule allows clock skew up to the limit, not beyond', async (t) => {
  const line = 'certbot_renewal,domain=example.com,host=h renewed_count=1';
  t.equal(check(line, NOW + 300n * 1_000_000_000n), undefined);
  t.equal(check(line, NOW + 300n * 1_000_000_000n + 1n)?.rule, 'timestamp-future');
  t.equal(check(line, NOW - 365n * 86_400n * 1_000_000_000n), undefined, 'old renewals are fine (backfill)');
});

t.test('a renewal before 2000 is a timestamp sent without its precision: refused with a hint', async (t) => {
  const line = 'certbot_renewal,domain=example.com,host=h renewed_count=1';
  const seconds = 1_767_225_600n; // 2026-01-01 in seconds, read as ns
  const rejection = check(line, seconds);
  t.equal(rejection?.rule, 'timestamp-too-old');
  t.equal(rejection?.message, 'line 1: certbot_renewal timestamp 1767225600 is before 2000-01-01: check the precision (a time in s, ms or us needs precision= in the URL, else it is read as ns)');
  t.equal(check(line, seconds * 1000n)?.rule, 'timestamp-too-old', 'milliseconds');
  t.equal(check(line, seconds * 1_000_000n)?.rule, 'timestamp-too-old', 'microseconds');
  t.equal(check(line, 946_684_800_000_000_000n), undefined, '2000-01-01 itself is fine');
  t.equal(check('cpu,host=h usage=1', seconds), undefined, 'other measurements keep any time');
});

t.test('a certificate date in milliseconds or nanoseconds is refused with a hint', async (t) => {
  const rejection = check('certbot_renewal,domain=example.com,host=h renewed_count=1,not_after=1795882279990000000i');
  t.equal(rejection?.message, 'line 1: certbot_renewal field "not_after" must be Unix seconds from 0 to 253402300799 (9999-12-31), got 1795882279990000000 (milliseconds or nanoseconds?)');
});

t.test('a rejection names the line, the rule and the offending value', async (t) => {
  const { points } = parseLines('\n\ncertbot_renewal,domain=example.com,host=h renewed_count=0');
  const rejection = checkSchema(points[0], NOW, NOW, rules);
  t.equal(rejection?.lineNumber, 3);
  t.equal(rejection?.message, 'line 3: certbot_renewal field "renewed_count" must be >= 1, got 0');
});

t.test('host and domain tags that would hide or forge text are refused, and hosts are bounded', async (t) => {
  const line = (host: string, domain = 'example.com') => `certbot_renewal,domain=${domain},host=${host} renewed_count=1`;
  // Shown escaped: a raw U+2028 would break the TAP line it is printed in.
  const shown = (text: string) => text.replace(/[^\x20-\x7e]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  for (const host of ['a\u202Eevil', 'web\u200B01', 'web\u00AD01', 'web\u2028x', 'web\u0085x', '\uFEFFweb']) {
    t.equal(check(line(host))?.rule, 'host-format', shown(host));
  }
  t.equal(check(line('x'.repeat(256)))?.message, 'line 1: certbot_renewal tag "host" must be at most 255 characters, got 256');
  t.equal(check(line('x'.repeat(255))), undefined, '255 characters are fine');
  t.equal(check(line('büro-1')), undefined, 'letters beyond ASCII are fine');
  for (const domain of ['exa\u200Bmple.com', 'exa\u00ADmple.com', '\uFEFFexample.com', 'example.com\u202E']) {
    t.equal(check(line('h', domain))?.rule, 'domain-format', shown(domain));
  }
  t.equal(check(line('h', 'bücher.example')), undefined, 'IDN names are fine');
});

t.test('renewed_count is a whole number of certificates, as the hook writes it ("2" as a float is fine)', async (t) => {
  const line = (count: string) => `certbot_renewal,domain=all,host=h renewed_count=${count}`;
  t.equal(check(line('2')), undefined);
  t.equal(check(line('2i')), undefined);
  t.equal(check(line('1.5'))?.rule, 'renewed-count-whole');
  t.equal(check(line('1.7e308'))?.message, 'line 1: certbot_renewal field "renewed_count" must be a whole number up to 1000000, got 1.7e+308');
});

t.test('a remembered series is checked like any other: refused every time, and accepted without a second check', async (t) => {
  const now = NOW;
  const bad = 'certbot_renewal,domain=exa_mple..com,host=optimus renewed_count=1';
  const good = 'certbot_renewal,domain=example.com,host=optimus renewed_count=1';
  for (let k = 0; k < 40; k++) {
    const [badPoint, goodPoint] = parseLines(`${bad}\n${good}`).points;
    t.equal(checkSchema(badPoint, now, now, rules)?.rule, 'domain-format', `parse ${k}: the bad domain is refused`);
    t.equal(checkSchema(goodPoint, now, now, rules), undefined, `parse ${k}: the good one accepted`);
    t.equal(checkSchema({ ...goodPoint, fields: new Map() }, now, now, rules)?.rule, 'renewed-count-required', `parse ${k}: fields still checked`);
  }
  const [last] = parseLines(bad).points;
  t.not(last.series, undefined, 'the bad series was remembered by the parser');
});

t.test('the remembered verdict on a new domain does not keep the request body that brought it alive', async (t) => {
  const collect = fullCollection();
  if (collect === undefined) return t.fail('V8 refused --expose-gc');
  const filler = Array.from({ length: 20_000 }, (_, k) => `cpu,host=server-${k % 100} usage_idle=99.5,usage_user=0.25 ${NOW + BigInt(k)}`).join('\n');
  const bodies = 20;
  collect();
  const before = process.memoryUsage().heapUsed;
  for (let b = 0; b < bodies; b++) {
    // Decoded from bytes, as the relay does: one flat string of its own per body, whose tag values are slices of it.
    const body = Buffer.from(`certbot_renewal,domain=new-domain-${b}.example.com,host=optimus renewed_count=1 ${NOW}\n${filler}`).toString('utf8');
    const [point] = parseLines(body).points;
    t.equal(checkSchema(point, NOW, NOW, rules), undefined);
  }
  collect();
  const growth = process.memoryUsage().heapUsed - before;
  t.ok(growth < filler.length * 4, `heap grew by ${(growth / 1e6).toFixed(1)} MB after ${bodies} bodies of ${(filler.length / 1e6).toFixed(1)} MB`);
});
