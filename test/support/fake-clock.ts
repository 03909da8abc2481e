import type { Clock } from '../../src/clock.js';

/** A clock that stands still until told to move. */
export function fakeClock(startNs: bigint): Clock & { advanceNs(ns: bigint): void } {
  let now = startNs;
  return {
    nowNs: () => now,
    nowMs: () => Number(now / 1_000_000n),
    advanceNs(ns) {
      now += ns;
    },
  };
}
