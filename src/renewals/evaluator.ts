// The evaluator: compares each certificate's live state with the stored
// verdict, and records every change, with the notices it causes for every
// channel, in one transaction. Runs at start-up, every evaluation interval,
// and about a second after a commit that carried renewals (so a recovery is
// announced at once). Its last run is the heartbeat metric.
import type { Clock } from '../clock.js';
import type { Store } from '../log/store.js';
import { composeNotice } from './notify/message.js';
import type { Outbox } from './notify/outbox.js';
import { stateAt, type RenewalState } from './policy.js';
import type { RenewalStore } from './renewal-store.js';
import { judge } from './verdict.js';

const OVERDUE_STATES: ReadonlySet<RenewalState> = new Set(['overdue', 'snoozed']);

export const EVALUATOR_LAST_RUN_KEY = 'evaluator_last_run_ms';

/** Renewals stored together (a hook run reports several certificates) are judged in one run. */
const AFTER_RENEWAL_DELAY_MS = 1000;

export interface EvaluatorDeps {
  readonly store: Store;
  readonly renewals: RenewalStore;
  readonly outbox: Outbox;
  readonly clock: Clock;
  /** Channel names; each notice is queued once for each. */
  readonly channels: readonly string[];
  readonly intervalMs: number;
  /** 0: no reminders. */
  readonly reminderIntervalMs: number;
  /** Called after an evaluation queued notifications. */
  readonly onQueued?: () => void;
  readonly onError?: (err: unknown) => void;
}

export interface EvaluationResult {
  readonly transitions: number;
  readonly notifications: number;
}

export class Evaluator {
  readonly #deps: EvaluatorDeps;
  #interval: NodeJS.Timeout | undefined;
  #soon: NodeJS.Timeout | undefined;
  #stopped = false;

  constructor(deps: EvaluatorDeps) {
    this.#deps = deps;
  }

  /** Evaluates now, then every interval. */
  start(): this {
    this.#runSafely();
    this.#interval = setInterval(() => this.#runSafely(), this.#deps.intervalMs);
    this.#interval.unref();
    return this;
  }

  /** Evaluates about a second from now; calls in between share that run. */
  evaluateSoon(): void {
    if (this.#stopped || this.#soon !== undefined) return;
    this.#soon = setTimeout(() => {
      this.#soon = undefined;
      this.#runSafely();
    }, AFTER_RENEWAL_DELAY_MS);
    this.#soon.unref();
  }

  /** Evaluates now; an error goes to onError, as a timed run's would. */
  evaluateNow(): void {
    this.#runSafely();
  }

  stop(): void {
    this.#stopped = true;
    clearInterval(this.#interval);
    clearTimeout(this.#soon);
  }

  /** One evaluation of every certificate at the clock's time. */
  evaluate(): EvaluationResult {
    const { store, renewals, outbox, clock, channels } = this.#deps;
    const nowMs = clock.nowMs();
    const { reminderIntervalMs } = this.#deps;
    const verdicts = renewals
      .list()
      .map((cert) => {
        // judge() needs the overdue spell and the last notice only around overdue: two queries a certificate
        // saved on every other one, as the evaluator runs about once a second while renewals pour in.
        const live = stateAt(cert, nowMs, renewals.policy);
        const aroundOverdue = OVERDUE_STATES.has(live) || OVERDUE_STATES.has(cert.state);
        const verdict = judge({
          cert,
          nowMs,
          policy: renewals.policy,
          reminderIntervalMs,
          overdueSinceMs: aroundOverdue ? renewals.overdueSinceMs(cert.host, cert.domain) : undefined,
          lastNoticeMs: live === 'overdue' && reminderIntervalMs > 0 ? outbox.lastNoticeMs(cert.host, cert.domain) : undefined,
        });
        return { cert, verdict };
      })
      .filter(({ verdict }) => verdict.transition !== undefined || verdict.notice !== undefined);

    let notifications = 0;
    const apply = (): void => {
      for (const { cert, verdict } of verdicts) {
        const { transition, notice } = verdict;
        const transitionId =
          transition === undefined ? null : renewals.setState(cert.host, cert.domain, transition.to, transition.atMs, transition.reason);
        if (notice !== undefined) {
          outbox.enqueue(composeNotice(notice), channels, transitionId, nowMs);
          notifications += channels.length;
        }
      }
      renewals.setMeta(EVALUATOR_LAST_RUN_KEY, nowMs);
    };
    // Decisions and their notices must survive a crash; a heartbeat alone need not cost an fsync.
    if (verdicts.length > 0) store.transaction(apply);
    else store.progressTransaction(apply);

    if (notifications > 0) this.#deps.onQueued?.();
    return { transitions: verdicts.filter((v) => v.verdict.transition !== undefined).length, notifications };
  }

  #runSafely(): void {
    if (this.#stopped) return;
    try {
      this.evaluate();
    } catch (err) {
      this.#deps.onError?.(err);
    }
  }
}
