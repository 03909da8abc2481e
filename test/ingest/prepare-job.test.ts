// The stored form of a prepared body: the body's own bytes when every line was
// accepted as received, else the accepted lines joined. Either way, the same text.
import fc from 'fast-check';
import t from 'tap';
import { prepareBody, type PrepareJob } from '../../src/ingest/prepare-job.js';
import { prepareWrite } from '../../src/ingest/prepare.js';
import { parseLines } from '../../src/line-protocol/parse.js';
import { receiveTimeNs, toNanoseconds, type Precision } from '../../src/line-protocol/precision.js';
import { storedText as text } from '../support/stored-text.js';

const NOW_NS = 1_700_000_000_123_456_789n;
const RULES = { certbotMeasurement: 'certbot_renewal', maxFutureNs: 600_000_000_000n };

function job(body: Buffer, precision: Precision = 'ns'): PrepareJob {
  return { body, precision, nowNs: NOW_NS, rules: RULES };
}

/** The stored text worked out line by line: every point not refused, as its head plus its ns timestamp. */
function expectedText(body: string, precision: Precision): string {
  const prepared = prepareWrite(body, { precision, nowNs: NOW_NS, rules: RULES });
  const refused = new Set([...prepared.parseErrors, ...prepared.typeConflicts, ...prepared.schemaRejections].map((p) => p.lineNumber));
  return parseLines(body)
    .points.filter((p) => !refused.has(p.lineNumber))
    .map((p) => `${p.head} ${p.timestamp === undefined ? receiveTimeNs(NOW_NS, precision) : toNanoseconds(p.timestamp, precision)}`)
    .join('\n');
}


const CERTBOT = [
  'certbot_renewal,domain=all,host=optimus renewed_count=2 1656169934438253518',
  'certbot_renewal,domain=example.com,host=optimus renewed_count=1 1656169934438253518',
  'cpu,host=a usage=1.5,idle=2i 1656169934438253519',
];

t.test('a body whose every line is stored as received is stored as its own bytes, without a copy', async (t) => {
  const body = Buffer.from(`${CERTBOT.join('\n')}\n`);
  const { stored, accepted } = prepareBody(job(body));
  t.equal(accepted, 3);
  t.ok(stored instanceof Uint8Array, 'bytes, not a string');
  t.equal(text(stored), CERTBOT.join('\n'), 'the body without its final newline');
  t.equal((stored as Uint8Array).buffer, body.buffer, 'a view of the body');
});

t.test('a span in the middle of the body: comments before and blank lines after are left out', async (t) => {
  const { stored } = prepareBody(job(Buffer.from(`# hook output\n\n${CERTBOT.join('\n')}\n\n\n`)));
  t.ok(stored instanceof Uint8Array);
  t.equal(text(stored), CERTBOT.join('\n'));
});

t.test('a non-ASCII body accepted as received is stored as a slice of its text', async (t) => {
  const lines = ['temp,city=Zürich value="日本語" 1656169934438253518', 'm v=1 2'];
  const { stored } = prepareBody(job(Buffer.from(lines.join('\n'))));
  t.type(stored, 'string');
  t.equal(stored, lines.join('\n'));
});

t.test('every other body is stored as the accepted lines joined', async (t) => {
  const [a, b] = CERTBOT;
  const cases: Array<[string, string, Precision?]> = [
    ['a comment between lines', `${a}\n# renewed\n${b}`],
    ['a blank line between lines', `${a}\n\n${b}`],
    ['CRLF line ends', `${a}\r\n${b}\r\n`],
    ['a leading blank', `${a}\n  ${b}`],
    ['a line without a timestamp', `${a}\nm v=1`],
    ['a timestamp with a leading zero', `${a}\nm v=1 0123`],
    ['two spaces before the timestamp', `${a}\nm v=1  123`],
    ['a parse error', `${a}\nnot a point\n${b}`],
    ['a schema rejection', `${a}\ncertbot_renewal,host=h renewed_count=1 1656169934000000004\n${b}`],
    ['a type conflict', `m v=1 1\nm v="x" 2\n${b}`],
    ['seconds precision', `m v=1 1\nm v=2 2`, 's'],
    ['invalid UTF-8 in a line', `${a}\n\u00ff`],
  ];
  for (const [name, body, precision] of cases) {
    const bytes = name === 'invalid UTF-8 in a line' ? Buffer.concat([Buffer.from(`${a}\n`), Buffer.from([0xff])]) : Buffer.from(body);
    const prepared = prepareBody(job(bytes, precision));
    t.type(prepared.stored, 'string', name);
    const decoded = bytes.toString('utf8');
    const expected = expectedText(decoded, precision ?? 'ns');
    if (name !== 'invalid UTF-8 in a line') t.equal(prepared.stored, expected, `${name}: the joined lines`);
    else t.equal(prepared.stored, a, `${name}: the good line only`);
  }
});

t.test('property: the stored text is always the accepted lines joined by "\\n"', async (t) => {
  const piece = fc.constantFrom(
    ...CERTBOT,
    'm v=1 0',
    'm v=1 -5',
    'm v=1 007',
    'm v=1',
    'm v=1  12',
    'm v="a b" 12',
    'm v="multi\nline" 13',
    'temp,city=Zürich v=1 14',
    '# comment',
    '',
    ' ',
    '\t',
    'bad',
    'm v="x" 15',
    'certbot_renewal,host=h renewed_count=1 1656169934000000004',
  );
  const body = fc.tuple(fc.array(piece, { minLength: 1, maxLength: 8 }), fc.constantFrom('\n', '\r\n'), fc.boolean()).map(
    ([lines, eol, trailing]) => lines.join(eol) + (trailing ? eol : ''),
  );
  const precision = fc.constantFrom<Precision>('ns', 'ns', 'us', 's');
  let asBytes = 0;
  fc.assert(
    fc.property(body, precision, (body, precision) => {
      const { stored } = prepareBody(job(Buffer.from(body), precision));
      if (typeof stored !== 'string') asBytes++;
      return text(stored) === expectedText(body, precision);
    }),
    { numRuns: 2000 },
  );
  t.ok(asBytes > 0, `some generated bodies were stored as bytes (${asBytes})`);
});

t.test('thousands of lines, kept as received and then not: the span and the joined lines are both stored', async (t) => {
  const asReceived = Array.from({ length: 5000 }, (_, k) => `m,host=h${k} v=${k} ${1656169934438253518n + BigInt(k)}`);
  const stamped = Array.from({ length: 9000 }, (_, k) => `m,host=s${k} v=${k}`);
  const body = `${asReceived.join('\n')}\n# a comment ends the span\n${stamped.join('\n')}\n`;
  const prepared = prepareBody(job(Buffer.from(body)));
  t.equal(prepared.accepted, 14_000);
  t.type(prepared.stored, 'string');
  t.equal(prepared.stored, expectedText(body, 'ns'));
  t.equal(text(prepared.stored).split('\n').length, 14_000);
});

t.test('refused lines past the first 100 of a kind are counted, not listed', async (t) => {
  const body = ['ok v=1 1', ...Array.from({ length: 250 }, (_, k) => `bad${k}`), 'ok v=2 2'].join('\n');
  const prepared = prepareBody(job(Buffer.from(body)));
  t.equal(prepared.accepted, 2);
  t.equal(prepared.parseErrorCount, 250);
  t.equal(prepared.parseErrors.length, 100);
  t.same(prepared.parseErrors.slice(0, 2).map((e) => e.lineNumber), [2, 3], 'the first ones, in line order');
});
