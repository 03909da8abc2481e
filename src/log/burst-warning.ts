// A warning for an event that comes in bursts (writes refused for the body
// budget, connections dropped at the cap): the first occurrence is logged at
// once, then at most one line a minute, each with how many occurred since the
// line before. Per-event lines would flood the log exactly when it is read.
export function burstWarning(warn: (obj: object, msg: string) => void, message: string, intervalMs = 60_000): (fields: object) => void {
  let loggedAtMs = -Infinity;
  let occurrences = 0;
  return (fields) => {
    occurrences++;
    const now = Date.now();
    if (now - loggedAtMs < intervalMs) return;
    loggedAtMs = now;
    warn({ ...fields, sinceLastLine: occurrences }, message);
    occurrences = 0;
  };
}
