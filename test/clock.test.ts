import t from 'tap';
import { systemClock } from '../src/clock.js';

t.test('receive time never goes back, re-anchoring to the wall clock included', async (t) => {
  const clock = systemClock();
  let previous = clock.nowNs();
  let backwards = 0;
  const until = Date.now() + 2_500; // spans two re-anchorings
  while (Date.now() < until) {
    const now = clock.nowNs();
    if (now < previous) backwards++;
    previous = now;
  }
  t.equal(backwards, 0);
  const wallNs = BigInt(Date.now()) * 1_000_000n;
  t.ok(previous <= wallNs + 2_000_000n && previous >= wallNs - 2_000_000n, 'and stays within a few ms of the wall clock');
});
