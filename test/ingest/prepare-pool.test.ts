import t from 'tap';
import { prepareBody, type PrepareJob } from '../../src/ingest/prepare-job.js';
import { ALWAYS_OFFLOAD_BODY_BYTES } from '../../src/ingest/intake.js';
import { DEFAULT_MIN_WORKER_BODY_BYTES, PreparePool, workersFor } from '../../src/ingest/prepare-pool.js';
import { fakeClock } from '../support/fake-clock.js';
import { until as waitUntil } from '../support/fake-target.js';
import { relayFor, storedLines } from '../support/relay.js';
import { storedText } from '../support/stored-text.js';

const NOW_NS = 1_700_000_000_123_456_789n;
const RULES = { certbotMeasurement: 'certbot_renewal', maxFutureNs: 600_000_000_000n };

// Every kind of outcome: accepted with and without timestamp, parse error, invalid UTF-8, type conflict, schema rejection.
function mixedBody(): Buffer {
  return Buffer.concat([
    Buffer.from('m,t=a v=1 1\nm v=2\nbad line here\n'),
    Buffer.from([0x6d, 0x20, 0x76, 0x3d, 0xff, 0x0a]),
    Buffer.from('m v="text" 3\ncertbot_renewal,host=h renewed_count=1 1656169934000000004\n'),
    Buffer.from(Array.from({ length: 2000 }, (_, i) => `cpu,host=h${i % 7} usage=${i}i ${i + 10}`).join('\n')),
  ]);
}

function job(body: Buffer): PrepareJob {
  return { body, precision: 'ns', nowNs: NOW_NS, rules: RULES };
}

t.test('a worker prepares a body exactly as the main thread does', async (t) => {
  const pool = new PreparePool({ workers: 1, minBodyBytes: 1 });
  t.teardown(() => pool.close());
  const expected = prepareBody(job(mixedBody()));
  t.ok(expected.parseErrors.length >= 2 && expected.typeConflicts.length === 1 && expected.schemaRejections.length === 1);
  const prepared = await pool.prepare(job(mixedBody()));
  t.ok(prepared.stored instanceof Uint8Array, 'the joined lines come back as UTF-8 bytes, transferred');
  t.same({ ...prepared, stored: storedText(prepared.stored) }, { ...expected, stored: storedText(expected.stored) });
});

t.test('renewal observations come back from a worker exactly as the main thread makes them, dates or none', async (t) => {
  const pool = new PreparePool({ workers: 1, minBodyBytes: 1 });
  t.teardown(() => pool.close());
  const lines = [
    'certbot_renewal,domain=all,host=web-1 renewed_count=2 1656169934438253518',
    'certbot_renewal,domain=example.com,host=web-1 renewed_count=1,not_before=1656169934i,not_after=1663945934i 1656169934438253518',
    'certbot_renewal,domain=*.example.org,host=web\\ 2 renewed_count=1 1656169934438253519',
    'certbot_renewal,domain=example.com,host=web-1 renewed_count=1 1656169934438253517',
  ];
  const body = (): Buffer => Buffer.from(lines.join('\n'));
  const expected = prepareBody(job(body()));
  t.equal(expected.renewals.length, 3, 'a host total and two certificates, the older report merged');
  t.same(await pool.prepare(job(body())), expected);
});

t.test('the body buffer is transferred, or copied when it is a view into a larger buffer', async (t) => {
  const pool = new PreparePool({ workers: 1, minBodyBytes: 1 });
  t.teardown(() => pool.close());
  const whole = Buffer.from(new ArrayBuffer(9));
  whole.write('m v=1 12\n');
  const result = await pool.prepare(job(whole));
  t.equal(storedText(result.stored), 'm v=1 12');
  t.equal(whole.buffer.byteLength, 0, 'transferred');
  t.ok(result.stored instanceof Uint8Array && result.stored.buffer.byteLength === 9, 'stored as the body\'s own bytes: its buffer came back');
  const outer = Buffer.from('xxxxm v=2 13yyyy');
  const view = outer.subarray(4, 12);
  t.equal(storedText((await pool.prepare(job(view))).stored), 'm v=2 13');
  t.equal(outer.toString(), 'xxxxm v=2 13yyyy', 'the larger buffer is untouched');
});

t.test('only bodies of at least minBodyBytes go to a worker, and none without workers or once closed', async (t) => {
  const pool = new PreparePool({ workers: 1, minBodyBytes: 100 });
  t.notOk(pool.wants(99));
  t.ok(pool.wants(100));
  t.notOk(new PreparePool({ workers: 0, minBodyBytes: 1 }).wants(1_000_000));
  await pool.close();
  t.notOk(pool.wants(100));
  await t.rejects(pool.prepare(job(Buffer.from('m v=1 1'))), { name: 'PrepareWorkerError', message: /closed/ });
});

t.test('an idle worker is stopped after idleTimeoutMs, a busy one is not, and the next job starts a new one', async (t) => {
  const pool = new PreparePool({ workers: 2, minBodyBytes: 1, idleTimeoutMs: 200 });
  t.teardown(() => pool.close());
  t.equal(pool.runningWorkers, 0, 'started on demand');
  const jobs = [pool.prepare(job(mixedBody())), pool.prepare(job(mixedBody()))];
  // Counted while both are in flight: once done, a worker that was quick may already be idle for idleTimeoutMs on a busy machine.
  t.equal(pool.runningWorkers, 2, 'two jobs at once use both workers');
  const together = await Promise.all(jobs);
  t.same(together[1], together[0]);

  // Keep one worker busy past the timeout with jobs that follow each other.
  const until = Date.now() + 700;
  while (Date.now() < until) await pool.prepare(job(Buffer.from('m v=1 1')));
  t.equal(pool.runningWorkers, 1, 'the worker without jobs was stopped, the busy one kept');
  await waitUntil(t, 'both workers are stopped once idle', () => pool.runningWorkers === 0);
  t.equal(storedText((await pool.prepare(job(Buffer.from('m v=2 2')))).stored), 'm v=2 2', 'a new worker takes the next job');
  t.equal(pool.runningWorkers, 1);
});

t.test('one worker per core on a multi-core machine, none on one core, at most four', async (t) => {
  t.equal(workersFor(1), 0);
  t.equal(workersFor(2), 2);
  t.equal(workersFor(3), 3);
  t.equal(workersFor(64), 4, 'each worker holds its own heap, and one main thread feeds them all');
});

t.test('a worker crash fails only the jobs it held, and the next job gets a new worker', async (t) => {
  const pool = new PreparePool({ workers: 1, minBodyBytes: 1, workerUrl: new URL('../fixtures/crashing-prepare-worker.ts', import.meta.url) });
  t.teardown(() => pool.close());
  t.equal((await pool.prepare(job(Buffer.from('m v=1 1')))).accepted, 1);
  await t.rejects(pool.prepare(job(Buffer.from('m v=1 1\nCRASH v=1 2'))), { name: 'PrepareWorkerError', message: /crashed on purpose/ });
  t.equal(storedText((await pool.prepare(job(Buffer.from('m v=3 3')))).stored), 'm v=3 3');
});

t.test('large bodies written concurrently over HTTP (so some go to the worker) are answered and stored like small ones', async (t) => {
  const relay = relayFor(t, '', { clock: fakeClock(NOW_NS) });
  const lines = Array.from({ length: 5000 }, (_, i) => `cpu,host=server${i % 10},region=eu-west usage_user=${i}.5,usage_system=${i} ${1_600_000_000_000_000_000n + BigInt(i)}`);
  const body = lines.join('\n');
  t.ok(Buffer.byteLength(body) >= DEFAULT_MIN_WORKER_BODY_BYTES);
  const [v1, v2, partial, v1b] = await Promise.all([
    relay.app.inject({ method: 'POST', url: '/write?db=big', payload: body }),
    relay.app.inject({ method: 'POST', url: '/api/v2/write?org=o&bucket=big', payload: `${body}\nm v=\n` }),
    relay.app.inject({ method: 'POST', url: '/write?db=big', payload: `${body}\nm v="x" 1\nm v=1i 2` }),
    relay.app.inject({ method: 'POST', url: '/write?db=big', payload: body }),
  ]);
  t.equal(v1.statusCode, 204);
  t.equal(v1b.statusCode, 204);
  t.equal(v2.statusCode, 400, 'a 2.x parse error refuses the whole large body');
  t.equal(partial.statusCode, 400);
  t.match(partial.body, /partial write: .*dropped=1/s);
  t.same(storedLines(relay).sort(), [...lines, ...lines, ...lines, 'm v="x" 1'].sort());
});

t.test('a worker crash inside a running relay: the writes it held get 500 and store nothing, the relay goes on', async (t) => {
  const preparePool = new PreparePool({ workers: 1, minBodyBytes: 1, workerUrl: new URL('../fixtures/crashing-prepare-worker.ts', import.meta.url) });
  const relay = relayFor(t, '', { clock: fakeClock(NOW_NS), preparePool });
  const good = Array.from({ length: 2000 }, (_, i) => `cpu,host=server${i % 10} usage=${i} ${1_600_000_000_000_000_000n + BigInt(i)}`).join('\n');
  const write = (payload: string) => relay.app.inject({ method: 'POST', url: '/write?db=big', payload });
  // Sent together, so the second is prepared by the worker while the first is in flight.
  const [first, crashed] = await Promise.all([write(good), write(`${good}\nCRASH v=1 1`)]);
  t.equal(first.statusCode, 204, 'the write prepared on the main thread is stored');
  t.equal(crashed.statusCode, 500);
  t.match(JSON.parse(crashed.body), { error: /crashed on purpose/ });
  t.notOk(storedLines(relay).includes('CRASH v=1 1'), 'nothing of the crashed write is stored');
  const [again, alongside] = await Promise.all([write('m v=1 1'), write('m v=2 2')]);
  t.same([again.statusCode, alongside.statusCode], [204, 204], 'a new worker takes the next writes');
  t.same(storedLines(relay).filter((l) => l.startsWith('m ')).sort(), ['m v=1 1', 'm v=2 2']);
});

t.test('a lone write is prepared on the main thread unless it is very large (a small gzip can inflate to 25 MB)', async (t) => {
  const pool = new PreparePool({ workers: 1, minBodyBytes: DEFAULT_MIN_WORKER_BODY_BYTES });
  let onWorker = 0;
  const prepare = pool.prepare.bind(pool);
  pool.prepare = (job) => {
    onWorker++;
    return prepare(job);
  };
  const relay = relayFor(t, '', { preparePool: pool });
  const body = (lines: number) => Array.from({ length: lines }, (_, i) => `m,host=h${i % 100} v=${i}i ${1_700_000_000_000_000_000n + BigInt(i)}`).join('\n');
  const medium = body(5_000); // ~230 KB: over the pool's minimum, under ALWAYS_OFFLOAD_BODY_BYTES
  t.ok(medium.length > DEFAULT_MIN_WORKER_BODY_BYTES && medium.length < ALWAYS_OFFLOAD_BODY_BYTES);
  t.equal((await relay.app.inject({ method: 'POST', url: '/write?db=d', payload: medium })).statusCode, 204);
  t.equal(onWorker, 0, 'alone and not huge: prepared where it arrived');
  const huge = body(110_000);
  t.ok(huge.length >= ALWAYS_OFFLOAD_BODY_BYTES, `${huge.length} bytes`);
  t.equal((await relay.app.inject({ method: 'POST', url: '/write?db=d', payload: huge })).statusCode, 204);
  t.equal(onWorker, 1, 'alone but huge: prepared on a worker');
  t.equal(storedLines(relay).length, 115_000);
});

t.test('a large job (a small gzip body that inflated to megabytes) holds up no other job: they go to the other worker', async (t) => {
  const pool = new PreparePool({ workers: 2, minBodyBytes: 1, workerUrl: new URL('../fixtures/slow-prepare-worker.ts', import.meta.url) });
  t.teardown(() => pool.close());
  // Start both workers, so that start-up time does not blur the timings below.
  await Promise.all([pool.prepare(job(Buffer.from('warm v=1 1'))), pool.prepare(job(Buffer.from('warm v=2 2')))]);
  const started = performance.now();
  const slow = pool.prepare(job(Buffer.from(`SLOW v=1 1\n${'tiny v=1 1\n'.repeat(200_000)}`)));
  const quick = await Promise.all(Array.from({ length: 6 }, (_, i) => pool.prepare(job(Buffer.from(`quick v=${i} ${i}`))).then(() => performance.now() - started)));
  await slow;
  const late = quick.filter((ms) => ms > 800);
  t.same(late, [], `quick jobs done after ${quick.map((ms) => ms.toFixed(0)).join(', ')} ms: none waited behind the large one`);
});
