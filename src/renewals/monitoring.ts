// Renewal monitoring as configured: the policy from [renewals], the outbox,
// one channel per [[notify.*]] entry, the evaluator, the notifier and the
// timer that writes pending renewals, started and stopped together.
import type { Clock } from '../clock.js';
import type { Config } from '../config/defaults.js';
import { isStoreFullError, type Store } from '../log/store.js';
import type { CertificateGauges } from '../ops/metrics.js';
import { Evaluator, EVALUATOR_LAST_RUN_KEY } from './evaluator.js';
import { openChannels } from './notify/channel.js';
import { Notifier, type DeliveryCounters, type NotifierLog } from './notify/notifier.js';
import { Outbox } from './notify/outbox.js';
import { APPLY_INTERVAL_MS } from './pending-renewals.js';
import { DAY_MS, stateAt, type RenewalPolicy } from './policy.js';
import type { RenewalStore } from './renewal-store.js';

const HOUR_MS = 3_600_000;

export function renewalPolicy(renewals: Config['renewals']): RenewalPolicy {
  return { defaultIntervalMs: renewals.defaultIntervalDays * DAY_MS, graceMs: renewals.graceDays * DAY_MS };
}

export interface RenewalMonitoringDeps {
  readonly store: Store;
  readonly renewals: RenewalStore;
  readonly config: Pick<Config, 'renewals' | 'notify'>;
  readonly clock: Clock;
  readonly counters?: DeliveryCounters;
  readonly log?: NotifierLog;
}

export class RenewalMonitoring {
  readonly outbox: Outbox;
  readonly evaluator: Evaluator;
  readonly notifier: Notifier;
  readonly #deps: RenewalMonitoringDeps;
  #applyTimer: NodeJS.Timeout | undefined;
  #stopped = false;

  constructor(deps: RenewalMonitoringDeps) {
    this.#deps = deps;
    const { store, renewals, config, clock, log } = deps;
    this.outbox = new Outbox(store.connection);
    this.notifier = new Notifier({
      outbox: this.outbox,
      channels: openChannels(config.notify),
      clock,
      retry: { initialMs: config.notify.retryInitialMs, maxMs: config.notify.retryMaxMs },
      ...(deps.counters && { counters: deps.counters }),
      ...(log && { log }),
    });
    this.evaluator = new Evaluator({
      store,
      renewals,
      outbox: this.outbox,
      clock,
      channels: this.notifier.channelNames,
      intervalMs: config.renewals.evaluationIntervalSeconds * 1000,
      reminderIntervalMs: config.renewals.reminderIntervalHours * HOUR_MS,
      onQueued: () => this.notifier.wake(),
      onError: (err) => log?.error({ err }, 'renewal evaluation failed'),
    });
  }

  /** Registers the expected certificates, delivers what waited over a restart, evaluates now and then periodically. */
  start(): this {
    try {
      this.#deps.renewals.setExpected(this.#deps.config.renewals.expected, this.#deps.clock.nowMs());
    } catch (err) {
      // It writes the pending renewals first, which a full store may have no room for; the relay
      // must start all the same, its forwarders being what drains the store.
      if (!isStoreFullError(err)) throw err;
      this.#deps.log?.error({ err }, 'renewals.expected is not registered, the store being full: the list of the previous start stays in effect until the next one');
    }
    this.notifier.start();
    this.evaluator.start();
    return this;
  }

  /** A commit stored renewals: judge them soon, so a recovery is announced at once. */
  renewalsStored(): void {
    this.evaluator.evaluateSoon();
  }

  /**
   * An operator retired, snoozed or undid that: judged at once, so the change is recorded before a report can
   * undo it (a retire followed within the interval by a report went unrecorded, and the reinstated certificate
   * was not announced) and a lifted snooze is announced now rather than at the next interval.
   */
  operatorActed(): void {
    this.evaluator.evaluateNow();
  }

  /**
   * A commit left renewals pending: they are written within APPLY_INTERVAL_MS
   * even if no later commit comes to write them. Calls in between share it.
   */
  applySoon(): void {
    if (this.#stopped || this.#applyTimer !== undefined) return;
    this.#applyTimer = setTimeout(() => {
      this.#applyTimer = undefined;
      try {
        this.#deps.renewals.applyPending();
      } catch (err) {
        this.#deps.log?.error({ err }, 'writing the pending renewal state failed; it is retried with the next commit or read');
      }
    }, APPLY_INTERVAL_MS);
    this.#applyTimer.unref();
  }

  /** Known certificates with their live state, for the metrics. */
  certificateGauges(): CertificateGauges[] {
    const { renewals, clock } = this.#deps;
    const nowMs = clock.nowMs();
    return renewals.list().map((c) => ({ ...c, state: stateAt(c, nowMs, renewals.policy) }));
  }

  evaluatorLastRunMs(): number | undefined {
    return this.#deps.renewals.meta(EVALUATOR_LAST_RUN_KEY);
  }

  pendingNotifications(): Map<string, number> {
    return this.outbox.pendingCounts(this.notifier.channelNames);
  }

  /** Stops evaluating; gives sends under way up to graceMs. The store must still be open. */
  async stop(graceMs: number): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#applyTimer);
    this.evaluator.stop();
    await this.notifier.stop(graceMs);
  }
}
