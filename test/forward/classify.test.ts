import t from 'tap';
import { answerText, classify, type Answer, type Outcome } from '../../src/forward/classify.js';

const response = (status: number, body = '', retryAfter?: string): Answer => ({
  kind: 'response',
  status,
  body,
  ...(retryAfter === undefined ? {} : { retryAfter }),
});

// [what the target answered, what the forwarder must do]
const TABLE: Array<[string, Answer, Partial<Outcome> & Record<string, unknown>]> = [
  ['204 (influxd, VictoriaMetrics)', response(204), { action: 'advance', class: 'delivered' }],
  ['200 (a proxy)', response(200, 'ok'), { action: 'advance', class: 'delivered' }],
  ['connection refused', { kind: 'network', message: 'ECONNREFUSED' }, { action: 'retry', class: 'network', suspectContent: false }],
  ['timeout', { kind: 'timeout', message: 'no answer' }, { action: 'retry', class: 'timeout', suspectContent: false }],
  ['503 with Retry-After', response(503, '', '30'), { action: 'retry', class: 'server_error', retryAfter: '30', suspectContent: false }],
  ['502 from a proxy', response(502, 'Bad Gateway'), { action: 'retry', class: 'server_error', suspectContent: false }],
  ['429 with Retry-After', response(429, '', '5'), { action: 'retry', class: 'throttled', retryAfter: '5', suspectContent: false }],
  ['500 panic (100 tags)', response(500, 'Internal Server Error\n'), { action: 'retry', class: 'server_error', suspectContent: true }],
  ['500 {"error":"timeout"}', response(500, '{"error":"timeout"}'), { action: 'retry', class: 'server_error', suspectContent: false }],
  [
    '500 disk full',
    response(500, '{"error":"engine: error writing WAL entry: write /var/lib/influxdb/wal/db/autogen/1/_00001.wal: no space left on device"}'),
    { action: 'retry', class: 'server_error', suspectContent: false },
  ],
  ['500 read-only disk', response(500, '{"error":"open /var/lib/influxdb/data/x: read-only file system"}'), { action: 'retry', class: 'server_error', suspectContent: false }],
  [
    '500 engine cache full',
    response(500, '{"error":"engine: cache maximum memory size exceeded"}'),
    { action: 'retry', class: 'server_error', suspectContent: false },
  ],
  ['500 retention policy not found', response(500, '{"error":"retention policy not found: nope"}'), { action: 'hold', class: 'retention_policy_not_found' }],
  ['413', response(413, '{"error":"Request Entity Too Large"}'), { action: 'split', class: 'too_large' }],
  ['400 partial write', response(400, '{"error":"partial write: field type conflict dropped=1"}'), { action: 'bisect', class: 'rejected' }],
  ['400 field type conflict', response(400, '{"error":"field type conflict"}'), { action: 'bisect', class: 'rejected' }],
  ['422 (2.x)', response(422, '{"code":"unprocessable entity","message":"failure writing points"}'), { action: 'bisect', class: 'rejected' }],
  ['401', response(401, '{"error":"authorization failed"}'), { action: 'hold', class: 'unauthorized' }],
  ['403', response(403, '{"error":"forbidden"}'), { action: 'hold', class: 'forbidden' }],
  ['404 database not found (1.x)', response(404, '{"error":"database not found: \\"x\\""}'), { action: 'hold', class: 'database_not_found' }],
  ['404 bucket not found (2.x)', response(404, '{"code":"not found","message":"bucket \\"x\\" not found"}'), { action: 'hold', class: 'database_not_found' }],
  // Go's %q escapes a quote in the name: one missing bucket must not hold the whole target.
  [
    '404 bucket not found, a quote in its name (2.x)',
    response(404, JSON.stringify({ code: 'not found', message: 'bucket "my\\"db" not found' })),
    { action: 'hold', class: 'database_not_found' },
  ],
  ['404 organization not found (2.x): the whole target', response(404, '{"code":"not found","message":"organization name \\"acme\\" not found"}'), { action: 'hold', class: 'not_found' }],
  ['404 wrong path', response(404, '404 page not found'), { action: 'hold', class: 'not_found' }],
  ['405 from a proxy', response(405, 'Method Not Allowed'), { action: 'hold', class: 'unexpected' }],
  ['301 redirect', response(301, ''), { action: 'hold', class: 'unexpected' }],
];

t.test('every answer maps to exactly one outcome', async (t) => {
  for (const [name, answer, expected] of TABLE) t.match(classify(answer), expected, name);
});

t.test('retries carry Retry-After only when the target sent it', async (t) => {
  t.notOk('retryAfter' in classify(response(503)));
  t.equal((classify(response(503, '', 'Wed, 21 Oct 2015 07:28:00 GMT')) as { retryAfter?: string }).retryAfter, 'Wed, 21 Oct 2015 07:28:00 GMT');
});

t.test('the target\'s own words: error (1.x), message (2.x), else the body, else the status', async (t) => {
  t.equal(answerText(response(400, '{"error":"unable to parse \'m\': missing fields"}\n')), "unable to parse 'm': missing fields");
  t.equal(answerText(response(422, '{"code":"unprocessable entity","message":"points beyond retention"}')), 'points beyond retention');
  t.equal(answerText(response(500, 'Internal Server Error\n')), 'Internal Server Error');
  t.equal(answerText(response(502, '')), 'HTTP 502 with an empty body');
  t.equal(answerText({ kind: 'network', message: 'ECONNRESET: socket hang up' }), 'ECONNRESET: socket hang up');
  t.equal(answerText(response(400, `{"error":"${'x'.repeat(10_000)}"}`)).length, 4097, 'long texts are cut');
});
