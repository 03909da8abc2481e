// A round built from bytes (on a worker) must be the round the forwarder builds
// from text on the main thread: the same requests, lanes, pieces and lines.
import fc from 'fast-check';
import t from 'tap';
import { gunzipSync } from 'node:zlib';
import { bodyOf, laneOf, pieceOf, planLanes, type Budget } from '../../src/forward/batcher.js';
import { buildRound, type RoundJob } from '../../src/forward/round-job.js';
import { PreparePool } from '../../src/ingest/prepare-pool.js';

/** The round as the main thread builds it, in the shape buildRound returns (bodies as text). */
function textRound(job: RoundJob) {
  const keys = new Map(job.batches.map((b) => [b.head.id, b.destinationKey]));
  const pieces = job.batches.map((b) => pieceOf(b.head, Buffer.from(b.lines).toString('utf8')));
  return planLanes(pieces, (p) => ({ key: keys.get(p.batchId)! }), job.budget, job.lanes).map((lane) =>
    lane.map((r) => ({ key: r.destination.key, body: bodyOf(r.pieces), pieces: r.pieces.map((p) => [p.batchId, p.db, p.points, p.text]) })),
  );
}

/** buildRound's result in the same shape, each piece read back from its range of the body. */
function byteRound(job: RoundJob) {
  return buildRound(job).map((lane) =>
    lane.map((r) => {
      const body = Buffer.from(r.body);
      t.same(gunzipSync(r.compressed), body, 'the compressed body is the body');
      return { key: r.destinationKey, body: body.toString('utf8'), pieces: r.pieces.map((p) => [p.batchId, p.db, p.points, body.subarray(p.start, p.end).toString('utf8')]) };
    }),
  );
}

function job(batches: Array<{ db: string; lines: string[] }>, budget: Budget, lanes: number): RoundJob {
  return {
    batches: batches.map((b, i) => {
      const lines = Buffer.from(b.lines.join('\n'), 'utf8');
      return { head: { id: i + 1, db: b.db, rp: '', points: b.lines.length, bytes: lines.length }, destinationKey: `key-${b.db}`, lines };
    }),
    budget,
    lanes,
  };
}

const certbot = (n: number, from = 0) =>
  Array.from({ length: n }, (_, i) => `certbot_renewal,domain=site-${(i + from) % 25}.example.com,host=web-${(i + from) % 40} renewed_count=1 ${1656169934438253518n + BigInt(i + from)}`);

t.test('certbot lines: the same lanes, requests and pieces from bytes as from text', async (t) => {
  const j = job([{ db: 'certbot', lines: certbot(3000) }, { db: 'certbot', lines: certbot(2500, 3000) }, { db: 'other', lines: certbot(40) }], { maxPoints: 1000, maxBytes: 1 << 20 }, 4);
  const built = byteRound(j);
  t.same(built, textRound(j));
  t.ok(built.length >= 4, `${built.length} lanes`);
});

t.test('a series keeps to one lane whether its batch is spread from bytes or from text, non-ASCII included', async (t) => {
  // A batch without quotes or backslashes is spread from its bytes; one with them from its text (laneOf). Both
  // must send one series to one lane, or two batches of one round could reorder that series.
  const series = Array.from({ length: 12 }, (_, i) => [`m,host=a${i}`, `m,host=ä${i}`, `m,host=日本${i}`, `m,host=😀x${i}`, `μ,t=${i}`]).flat();
  const plain = series.map((key, i) => `${key} v=${i}i ${i}`);
  const quoted = series.map((key, i) => `${key} s="x" ${i}`);
  const round = byteRound(job([{ db: 'd', lines: plain }, { db: 'd', lines: quoted }], { maxPoints: 20, maxBytes: 1 << 20 }, 7));
  t.ok(round.length > 3, `${round.length} lanes`);
  for (const key of series) {
    const lanes = round.flatMap((lane, i) => (lane.some((r) => r.body.split('\n').some((l) => l.startsWith(`${key} `))) ? [i] : []));
    t.equal(lanes.length, 1, `${key}: one lane (laneOf ${laneOf(`${key} v=1i 1`, 7)})`);
  }
});

t.test('property: for any batches, budget and lanes, the round from bytes is the round from text', async (t) => {
  const char = fc.constantFrom('a', 'b', 'z', '0', '=', ',', ' ', '\\', '"', 'é', '日', '😀', '\n', '.');
  const line = fc.oneof(
    fc.tuple(fc.integer({ min: 0, max: 30 }), fc.integer({ min: 0, max: 5 }), fc.nat()).map(([h, m, ts]) => `m${m},host=h${h} v=${ts}i ${ts}`),
    fc.tuple(fc.integer({ min: 0, max: 30 }), fc.string({ unit: char, maxLength: 12 })).map(([h, s]) => `s,host=h${h} msg="${s.replace(/["\\]/g, '\\$&')}" ${h}`),
    fc.tuple(fc.string({ unit: fc.constantFrom('a', 'é', '日', '\\ ', '\\,'), minLength: 1, maxLength: 6 }), fc.nat()).map(([tag, ts]) => `e,t=${tag} v=1 ${ts}`),
  );
  fc.assert(
    fc.property(
      fc.array(fc.record({ db: fc.constantFrom('a', 'b'), lines: fc.array(line, { minLength: 1, maxLength: 40 }) }), { minLength: 1, maxLength: 6 }),
      fc.integer({ min: 1, max: 50 }),
      fc.integer({ min: 40, max: 4000 }),
      fc.integer({ min: 1, max: 5 }),
      (batches, maxPoints, maxBytes, lanes) => {
        const j = job(batches, { maxPoints, maxBytes }, lanes);
        t.same(byteRound(j), textRound(j));
      },
    ),
    { numRuns: 300 },
  );
});

t.test('a prepare worker builds the round buildRound builds, and takes the batches\' buffers instead of copying them', async (t) => {
  const pool = new PreparePool({ workers: 1, minBodyBytes: 1 });
  t.teardown(() => pool.close());
  const j = job([{ db: 'certbot', lines: certbot(2000) }, { db: 'certbot', lines: certbot(2000, 2000) }], { maxPoints: 1000, maxBytes: 1 << 20 }, 2);
  const expected = buildRound(j);
  const sent = j.batches.map((b) => b.lines);
  const built = await pool.buildRound(j);
  t.ok(sent.every((b) => b.byteLength === 0), 'the batch buffers were transferred');
  t.same(
    built.map((lane) => lane.map((r) => ({ ...r, body: Buffer.from(r.body), compressed: gunzipSync(r.compressed) }))),
    expected.map((lane) => lane.map((r) => ({ ...r, body: Buffer.from(r.body), compressed: gunzipSync(r.compressed) }))),
  );
});
