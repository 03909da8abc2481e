// Per-target delivery status, read from the store alone: what `certrelay
// status` prints (from another process, while the relay runs), and what the
// running relay's /metrics and /health start from. Every figure comes from
// counters and index lookups; nothing scans the log.
import type { TargetConfig } from '../config/defaults.js';
import type { HeldSource, Store } from '../log/store.js';
import { classify, DESTINATION_HOLDS, HOLD_CLASSES, type OutcomeClass } from './classify.js';
import { routeFor } from './routing.js';

/** A destination the target lacks (database, bucket, retention policy): its lines are held dead letters. */
export interface HeldDestination {
  /** `db`, `db/rp` (1.x) or the bucket (2.x), as the target names it. */
  readonly label: string;
  readonly status: number | null;
  readonly error: string;
  readonly sinceMs: number;
  /** Other destinations of the target held too (this one is the oldest): /health counts them. */
  readonly alsoHeld?: number;
}

export interface TargetStatus {
  readonly target: string;
  /**
   * False for a target the relay has not yet run with (no cursor in the store): it will
   * start at the end of the log, so nothing stored before counts as its backlog.
   */
  readonly started: boolean;
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
  /**
   * Set when the hold concerns one destination only (404 database or bucket not
   * found, 500 retention policy not found): the other destinations are delivered,
   * this one's lines wait as held dead letters. Null for a target-wide hold.
   */
  readonly heldDestination: HeldDestination | null;
  /**
   * A target-wide hold's own answer (the 401 and its text): a network error or timeout while the target
   * stays held replaces the last error, not the reason it is held. Absent without a target-wide hold.
   */
  readonly heldAnswer?: { readonly status: number | null; readonly error: string };
}

/**
 * The target's held destinations, oldest first, with their labels: only those it still takes. The held lines
 * of a database since removed from its `databases` are never sent (nor replayable); they are ordinary dead
 * letters now, not a hold that ends by itself.
 */
export function heldDestinationsOf(store: Store, target: TargetConfig): Array<HeldSource & { readonly label: string }> {
  return store.heldSources(target.name).flatMap((source) => {
    const route = routeFor(target, source.db, source.rp);
    return route === undefined ? [] : [{ ...source, label: route.label }];
  });
}

export function readTargetStatus(store: Store, target: TargetConfig, nowMs: number): TargetStatus {
  return readTargetStatusAndOldest(store, target, nowMs).status;
}

/** The status, and the id of the oldest unsent batch (undefined without a backlog), read once for both. */
export function readTargetStatusAndOldest(
  store: Store,
  target: TargetConfig,
  nowMs: number,
): { readonly status: TargetStatus; readonly oldestUnsentId: number | undefined } {
  const cursor = store.cursor(target.name);
  const started = cursor !== undefined;
  const backlog = started ? store.backlog(target.name, target.databases) : { batches: 0, points: 0, bytes: 0 };
  const oldestUnsent = backlog.batches > 0 ? store.oldestUnsent(target.name, target.databases) : undefined;
  const oldest = oldestUnsent?.receivedAtMs ?? null;
  const state = store.targetState(target.name);
  const lastOutcome = (state?.lastOutcome ?? null) as OutcomeClass | null;
  const lastErrorMs = state?.lastErrorMs ?? null;
  const lastSuccessMs = state?.lastSuccessMs ?? null;
  let heldBecause =
    lastOutcome !== null && HOLD_CLASSES.includes(lastOutcome) && lastErrorMs !== null && (lastSuccessMs === null || lastSuccessMs < lastErrorMs)
      ? lastOutcome
      : null;
  let heldDestination: HeldDestination | null = null;
  // A last error that concerns one destination holds only that one, also when nothing was delivered after it.
  if (heldBecause === null || DESTINATION_HOLDS.includes(heldBecause)) {
    // Held dead letters stay until the destination accepts writes again (or an operator purges them).
    const sources = heldDestinationsOf(store, target);
    const [source] = sources;
    if (source !== undefined) {
      heldBecause = classify({ kind: 'response', status: source.status ?? 0, body: source.error }).class;
      heldDestination = { label: source.label, status: source.status, error: source.error, sinceMs: source.sinceMs, alsoHeld: sources.length - 1 };
    } else if (heldBecause !== null) {
      // The last refusal concerned one destination, and nothing of it is held (purged, or released): no hold.
      heldBecause = null;
    }
  }
  const status: TargetStatus = {
    target: target.name,
    started,
    kind: target.kind,
    url: target.url,
    cursor: cursor ?? 0,
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
    heldDestination,
    ...(heldBecause !== null && heldDestination === null ? { heldAnswer: { status: state?.lastStatus ?? null, error: state?.lastError ?? '' } } : {}),
  };
  return { status, oldestUnsentId: oldestUnsent?.id };
}

/** Why a target makes /health fail, or undefined when it does not. */
export function healthProblem(status: TargetStatus, target: Pick<TargetConfig, 'healthMaxLagSeconds'>): string | undefined {
  if (status.heldBecause !== null) {
    const held = status.heldDestination;
    const answer = status.heldAnswer ?? { status: status.lastStatus, error: status.lastError ?? '' };
    const httpStatus = held === null ? answer.status : held.status;
    const code = httpStatus === null ? '' : ` (HTTP ${httpStatus})`;
    if (held !== null) {
      // Each held database is the operator's to create: naming only the oldest hides the others until it is done.
      const others = (held.alsoHeld ?? 0) > 0 ? `; and ${held.alsoHeld} more held (certrelay status names them)` : '';
      return `${status.heldBecause.replace(/_/g, ' ')}${code} for ${held.label}: ${held.error}${others}; data is kept until the target accepts it (held dead letters; other destinations are delivered)`;
    }
    // A later network error or timeout does not say the hold is over: the target's own refusal is the reason.
    const lastAttempt = status.lastError === null || status.lastError === answer.error ? '' : `; last attempt: ${status.lastError}`;
    return `${status.heldBecause.replace(/_/g, ' ')}${code}: ${answer.error}${lastAttempt}; data is kept until the target accepts it`;
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
