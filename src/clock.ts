// Wall-clock time in nanoseconds. Date.now() alone has millisecond
// resolution, and two receive-stamped points of one series in the same
// millisecond would overwrite each other in InfluxDB; so the monotonic clock
// supplies the digits below the millisecond, re-anchored to the wall clock
// every second so NTP corrections are followed. A re-anchoring can land up to
// a millisecond behind the monotonic estimate (Date.now() truncates), so the
// clock never goes back nor repeats: a later receive-stamped point of a series
// must get a later time than the previous one.
export type Clock = {
  nowNs(): bigint;
  nowMs(): number;
};

const REANCHOR_MS = 1000;

/** Where systemClock reads the time; replaced in tests. */
export interface TimeSources {
  readonly wallMs: () => number;
  readonly monotonicNs: () => bigint;
}

const SYSTEM_TIME: TimeSources = { wallMs: Date.now, monotonicNs: process.hrtime.bigint };

export function systemClock(time: TimeSources = SYSTEM_TIME): Clock {
  let anchorWallNs = 0n;
  let anchorMonoNs = 0n;
  let anchoredAtMs = -Infinity;
  let lastNs = 0n;
  return {
    nowNs() {
      const wallMs = time.wallMs();
      const mono = time.monotonicNs();
      if (wallMs - anchoredAtMs >= REANCHOR_MS || wallMs < anchoredAtMs) {
        anchorWallNs = BigInt(wallMs) * 1_000_000n;
        anchorMonoNs = mono;
        anchoredAtMs = wallMs;
      }
      let ns = anchorWallNs + (mono - anchorMonoNs);
      // One nanosecond past the previous reading, never the same: two receive-stamped points of a series
      // with one time would overwrite each other in InfluxDB. A wall clock set back by more than a second
      // (wallMs < anchoredAtMs re-anchors) is followed, not hidden.
      if (ns <= lastNs && lastNs - ns < 1_000_000_000n) ns = lastNs + 1n;
      lastNs = ns;
      return ns;
    },
    nowMs: () => time.wallMs(),
  };
}
