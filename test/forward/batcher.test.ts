import t from 'tap';
import { bodyOf, countPoints, cutToBudget, halve, laneOf, packRequests, pieceOf, planLanes, planRound, splitLines, type Piece } from '../../src/forward/batcher.js';
import type { BatchHead } from '../../src/log/store.js';

let nextId = 1;
function head(points: number, bytes: number, db = 'telegraf', rp = ''): BatchHead {
  return { id: nextId++, receivedAtMs: 0, db, rp, points, bytes, onlyTarget: null };
}
const all = () => true;

t.test('a round takes batches while they fit the point budget, and at least one', async (t) => {
  const heads = [head(2000, 10), head(2000, 10), head(2000, 10), head(1, 1)];
  const plan = planRound(heads, all, { maxPoints: 5000, maxBytes: 1 << 20 });
  t.same(plan.chosen.map((h) => h.id), [heads[0].id, heads[1].id]);
  t.equal(plan.lastId, heads[1].id, 'the cursor stops before the batch that did not fit');
  t.same(plan.passed, [{ db: 'telegraf', batches: 2, points: 4000, bytes: 20 }]);

  const huge = [head(20_000, 5 << 20), head(1, 1)];
  const alone = planRound(huge, all, { maxPoints: 5000, maxBytes: 1 << 20 });
  t.same(alone.chosen.map((h) => h.id), [huge[0].id], 'an oversized batch goes alone');
});

t.test('the byte budget counts as well', async (t) => {
  const heads = [head(1, 600), head(1, 600), head(1, 100)];
  const plan = planRound(heads, all, { maxPoints: 5000, maxBytes: 1000 });
  t.same(plan.chosen.map((h) => h.id), [heads[0].id]);
});

t.test('batches the target does not take are passed over, not counted, and the cursor moves past them', async (t) => {
  const heads = [head(1, 10, 'telegraf'), head(3, 30, 'certbot'), head(4000, 10, 'telegraf'), head(1, 10, 'certbot'), head(9000, 10, 'telegraf')];
  const plan = planRound(heads, (h) => h.db === 'certbot', { maxPoints: 5, maxBytes: 1 << 20 });
  t.same(plan.chosen.map((h) => h.db), ['certbot', 'certbot']);
  t.equal(plan.lastId, heads[4].id, 'everything was covered');
  t.same(
    [...plan.passed].sort((a, b) => a.db.localeCompare(b.db)),
    [
      { db: 'certbot', batches: 2, points: 4, bytes: 40 },
      { db: 'telegraf', batches: 3, points: 13001, bytes: 30 },
    ],
  );
  const nothing = planRound(heads, () => false, { maxPoints: 5, maxBytes: 10 });
  t.same(nothing.chosen, []);
  t.equal(nothing.lastId, heads[4].id);
});

const piece = (lines: string[], batchId = 1, db = 'telegraf', rp = ''): Piece => {
  const text = lines.join('\n');
  return { batchId, db, rp, text, points: lines.length, bytes: Buffer.byteLength(text) };
};

t.test('lines are split as line protocol: a quoted newline stays inside its line', async (t) => {
  const lines = ['m s="two\nlines" 1', 'm,t=a\\ b f=1i 2', 'm s="a \\"q\\"" 3', 'cpu v=1 4'];
  t.same(splitLines(lines.join('\n'), 4), lines);
  t.same(splitLines('a v=1 1\nb v=2 2'), ['a v=1 1', 'b v=2 2']);
});

t.test('a piece over the budget is cut into pieces within it, lines whole', async (t) => {
  const lines = Array.from({ length: 10 }, (_, i) => `m v=${i} ${i}`);
  const parts = cutToBudget(piece(lines), { maxPoints: 4, maxBytes: 1 << 20 });
  t.same(parts.map((p) => p.points), [4, 4, 2]);
  t.same(parts.flatMap((p) => p.text.split('\n')), lines);
  t.ok(parts.every((p) => p.batchId === 1 && p.bytes === Buffer.byteLength(p.text)));
  const long = `m s="${'x'.repeat(100)}" 1`;
  const byBytes = cutToBudget(piece(['a v=1 1', long, 'b v=1 1']), { maxPoints: 100, maxBytes: 50 });
  t.same(byBytes.map((p) => p.text), ['a v=1 1', long, 'b v=1 1'], 'a line longer than the budget goes alone');
});

t.test('requests are grouped by destination, in order, and packed within the budget', async (t) => {
  const pieces = [piece(['a1'], 1, 'a'), piece(['b1'], 2, 'b'), piece(['a2', 'a3'], 3, 'a'), piece(['a4'], 4, 'a')];
  const requests = packRequests(pieces, (p) => ({ key: p.db }), { maxPoints: 3, maxBytes: 1 << 20 });
  t.same(
    requests.map((r) => [r.destination.key, bodyOf(r.pieces)]),
    [
      ['a', 'a1\na2\na3'],
      ['a', 'a4'],
      ['b', 'b1'],
    ],
  );
});

t.test('halving: between pieces near the middle of the points, or inside a single piece', async (t) => {
  const [x, y] = halve([piece(['1'], 1), piece(['2', '3', '4'], 2), piece(['5'], 3), piece(['6', '7'], 4)]);
  t.same([x.map((p) => p.batchId), y.map((p) => p.batchId)], [[1, 2], [3, 4]]);
  const [a, b] = halve([piece(['l1', 'l2', 'l3'], 9)]);
  t.same([a[0].text, b[0].text], ['l1\nl2', 'l3']);
  t.same([a[0].batchId, b[0].batchId], [9, 9], 'parts keep their batch id (for dead letters)');
  t.throws(() => halve([piece(['only'])]));
});

t.test('pieceOf carries the head\'s identity', async (t) => {
  const h = head(2, 7, 'certbot', 'autogen');
  t.same(pieceOf(h, 'a 1\nb 2'), { batchId: h.id, db: 'certbot', rp: 'autogen', text: 'a 1\nb 2', points: 2, bytes: 7 });
});

t.test('lanes: a series always lands in the same lane; escaped spaces are part of the series key', async (t) => {
  for (const lanes of [2, 4, 7]) {
    t.equal(laneOf('cpu,host=a v=1 1', lanes), laneOf('cpu,host=a v=2,w=3i 2', lanes));
    t.equal(laneOf('m,host=web\\ 01 v=1 1', lanes), laneOf('m,host=web\\ 01 x=9 9', lanes));
    t.ok(laneOf('cpu,host=a v=1 1', lanes) < lanes);
  }
  const spread = new Set(Array.from({ length: 100 }, (_, i) => laneOf(`cpu,host=h${i} v=1 1`, 4)));
  t.equal(spread.size, 4, '100 series use all 4 lanes');
});

t.test('a round that fits one request stays one request; a bigger one is spread over lanes, each series in order', async (t) => {
  const dest = () => ({ key: 'd' });
  const small = planLanes([piece(['a v=1 1', 'b v=1 1'])], dest, { maxPoints: 10, maxBytes: 1 << 20 }, 4);
  t.same(small.map((lane) => lane.map((r) => r.pieces.length)), [[1]]);

  const lines = Array.from({ length: 40 }, (_, i) => `cpu,host=h${i % 8} v=${i} ${i}`);
  const lanes = planLanes([piece(lines.slice(0, 20), 1), piece(lines.slice(20), 2)], dest, { maxPoints: 10, maxBytes: 1 << 20 }, 4);
  t.ok(lanes.length > 1 && lanes.length <= 4, `${lanes.length} lanes`);
  const sent = lanes.flatMap((lane) => lane.flatMap((r) => r.pieces.flatMap((p) => p.text.split('\n'))));
  t.same([...sent].sort(), [...lines].sort(), 'every line once');
  for (const lane of lanes) {
    for (const r of lane) t.ok(countPoints(r.pieces) <= 10, 'each request within the budget');
    const inLane = lane.flatMap((r) => r.pieces.flatMap((p) => p.text.split('\n')));
    for (let h = 0; h < 8; h++) {
      const series = inLane.filter((l) => l.startsWith(`cpu,host=h${h} `));
      t.same(series, lines.filter((l) => l.startsWith(`cpu,host=h${h} `)).filter((l) => series.includes(l)), `h${h} in order`);
    }
  }
  const pieces = lanes.flatMap((lane) => lane.flatMap((r) => r.pieces));
  t.ok(pieces.every((p) => (p.batchId === 1 ? lines.slice(0, 20) : lines.slice(20)).includes(p.text.split('\n')[0])), 'lines keep their batch id');
});
