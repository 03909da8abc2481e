// Wall-clock time in nanoseconds. Date.now() alone has millisecond
// resolution, and two receive-stamped points of one series in the same
// millisecond would overwrite each other in InfluxDB; so the monotonic clock
// supplies the digits below the millisecond, re-anchored to the wall clock
// every second so NTP corrections are followed.
export type Clock = {
  nowNs(): bigint;
  nowMs(): number;
};

const REANCHOR_MS = 1000;

export function systemClock(): Clock {
  let anchorWallNs = 0n;
  let anchorMonoNs = 0n;
  let anchoredAtMs = -Infinity;
  return {
    nowNs() {
      const wallMs = Date.now();
      const mono = process.hrtime.bigint();
      if (wallMs - anchoredAtMs >= REANCHOR_MS || wallMs < anchoredAtMs) {
        anchorWallNs = BigInt(wallMs) * 1_000_000n;
        anchorMonoNs = mono;
        anchoredAtMs = wallMs;
      }
      return anchorWallNs + (mono - anchorMonoNs);
    },
    nowMs: () => Date.now(),
  };
}
