// Wall-clock time in nanoseconds. Date.now() alone has millisecond
// resolution, and two receive-stamped points of one series in the same
// millisecond would overwrite each other in InfluxDB; so the monotonic clock
// supplies the digits below the millisecond, re-anchored to the wall clock
// every second so NTP corrections are followed. A re-anchoring can land up to
// a millisecond behind the monotonic estimate (Date.now() truncates), so the
// clock never goes back: a later receive-stamped point of a series must not
// get an earlier time than the previous one.
export type Clock = {
  nowNs(): bigint;
  nowMs(): number;
};

const REANCHOR_MS = 1000;

export function systemClock(): Clock {
  let anchorWallNs = 0n;
  let anchorMonoNs = 0n;
  let anchoredAtMs = -Infinity;
  let lastNs = 0n;
  return {
    nowNs() {
      const wallMs = Date.now();
      const mono = process.hrtime.bigint();
      if (wallMs - anchoredAtMs >= REANCHOR_MS || wallMs < anchoredAtMs) {
        anchorWallNs = BigInt(wallMs) * 1_000_000n;
        anchorMonoNs = mono;
        anchoredAtMs = wallMs;
      }
      const ns = anchorWallNs + (mono - anchorMonoNs);
      // A wall clock set back by more than a second (wallMs < anchoredAtMs re-anchors) is followed, not hidden.
      if (ns < lastNs && lastNs - ns < 1_000_000_000n) return lastNs;
      lastNs = ns;
      return ns;
    },
    nowMs: () => Date.now(),
  };
}
