// Per-target delivery status, read from the store alone: what `certrelay
// status` prints (from another process, while the relay runs), and what the
// running relay's /metrics and /health start from. Every figure comes from
// counters and index lookups; nothing scans the log.
import type { TargetConfig } from '../config/defaults.js';
import type { Store } from '../log/store.js';
import { HOLD_CLASSES, type OutcomeClass } from './classify.js';

export interface TargetStatus {
  readonly target: string;
  readonly kind: TargetConfig['kind'];
  readonly url: string;
  /** Last batch id delivered (or passed over); 0 when nothing yet. */
  readonly cursor: number;
  readonly backlogBatches: number;
  readonly backlogPoints: number;
  /** Bytes of line protocol, before gzip. */
  readonly backlogBytes: number;
  /** When the oldest batch not yet delivered was received; null when nothing waits. */
  readonly oldestUnsentMs: number | null;
  /** 0 when nothing waits. */
  readonly oldestUnsentAgeSeconds: number;
  readonly lastSuccessMs: number | null;
  readonly lastErrorMs: number | null;
  /** The target's HTTP status on the last error; null for a network error or timeout. */
  readonly lastStatus: number | null;
  readonly lastOutcome: OutcomeClass | null;
  readonly lastError: string | null;
  readonly deadLetters: number;
  /**
   * Why the target refuses everything (401, 403, 404 …) and data is held, or
   * null. From the store: the last error was of that kind and nothing was
   * delivered since. The running relay overrides it with the forwarder's live view.
   */
  readonly heldBecause: OutcomeClass | null;
}

export function readTargetStatus(store: Store, target: TargetConfig, nowMs: number): TargetStatus {
  const backlog = store.backlog(target.name, target.databases);
  const oldest = backlog.batches > 0 ? (store.oldestUnsentMs(target.name, target.databases) ?? null) : null;
  const state = store.targetState(target.name);
  const lastOutcome = (state?.lastOutcome ?? null) as OutcomeClass | null;
  const lastErrorMs = state?.lastErrorMs ?? null;
  const lastSuccessMs = state?.lastSuccessMs ?? null;
  const heldBecause =
    lastOutcome !== null && HOLD_CLASSES.includes(lastOutcome) && lastErrorMs !== null && (lastSuccessMs === null || lastSuccessMs < lastErrorMs)
      ? lastOutcome
      : null;
  return {
    target: target.name,
    kind: target.kind,
    url: target.url,
    cursor: store.cursor(target.name) ?? 0,
    backlogBatches: backlog.batches,
    backlogPoints: backlog.points,
    backlogBytes: backlog.bytes,
    oldestUnsentMs: oldest,
    oldestUnsentAgeSeconds: oldest === null ? 0 : Math.max(0, (nowMs - oldest) / 1000),
    lastSuccessMs,
    lastErrorMs,
    lastStatus: state?.lastStatus ?? null,
    lastOutcome,
    lastError: state?.lastError ?? null,
    deadLetters: store.countDeadLetters(target.name),
    heldBecause,
  };
}

/** Why a target makes /health fail, or undefined when it does not. */
export function healthProblem(status: TargetStatus, target: Pick<TargetConfig, 'healthMaxLagSeconds'>): string | undefined {
  if (status.heldBecause !== null) {
    const code = status.lastStatus === null ? '' : ` (HTTP ${status.lastStatus})`;
    return `${status.heldBecause.replace(/_/g, ' ')}${code}: ${status.lastError ?? ''}; data is kept until the target accepts it`;
  }
  if (target.healthMaxLagSeconds > 0 && status.oldestUnsentAgeSeconds > target.healthMaxLagSeconds) {
    return (
      `the oldest undelivered point waits for ${Math.round(status.oldestUnsentAgeSeconds)} s ` +
      `(over health_max_lag_seconds = ${target.healthMaxLagSeconds}); ${status.backlogPoints} points pending` +
      (status.lastError === null ? '' : `; last error: ${status.lastError}`)
    );
  }
  return undefined;
}
