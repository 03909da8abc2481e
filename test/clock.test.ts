import t from 'tap';
import { systemClock } from '../src/clock.js';

const MS = 1_000_000n;

t.test('receive time never goes back nor repeats when it re-anchors to the wall clock, which truncates to the millisecond', async (t) => {
  let wallMs = 1_000;
  let monoNs = 0n;
  const clock = systemClock({ wallMs: () => wallMs, monotonicNs: () => monoNs });
  t.equal(clock.nowNs(), 1_000n * MS, 'anchored on the wall clock');
  // The monotonic clock says 1000.6 ms have passed; the wall clock still shows 1999 ms: no re-anchoring yet.
  wallMs = 1_999;
  monoNs = 1_000n * MS + 600_000n;
  const ahead = clock.nowNs();
  t.equal(ahead, 2_000n * MS + 600_000n);
  // The wall clock reaches 2000 ms: re-anchored there, 0.6 ms behind the previous reading.
  wallMs = 2_000;
  monoNs += 100_000n;
  t.equal(clock.nowNs(), ahead + 1n, 'a nanosecond past the previous reading instead of stepping back');
  monoNs += 200_000n;
  t.equal(clock.nowNs(), ahead + 2n, 'and again, never the same time twice');
  monoNs += 1_000_000n;
  t.equal(clock.nowNs(), 2_001n * MS + 200_000n, 'then on from the new anchor (2000 ms + 1.2 ms) once it has caught up');
});

t.test('a wall clock set back by seconds is followed, not hidden', async (t) => {
  let wallMs = 10_000;
  const clock = systemClock({ wallMs: () => wallMs, monotonicNs: () => 0n });
  t.equal(clock.nowNs(), 10_000n * MS);
  wallMs = 5_000;
  t.equal(clock.nowNs(), 5_000n * MS);
});
