// All the forwarders of a relay, plus the log's garbage collector: started
// once the store is open, woken by each commit, stopped with a grace period.
import type { TargetConfig } from '../config/defaults.js';
import type { HealthCheck } from '../http/status-routes.js';
import type { Store } from '../log/store.js';
import type { Metrics } from '../ops/metrics.js';
import { Forwarder, type ForwarderDeps, type ForwardLog } from './forwarder.js';
import { GarbageCollector } from './gc.js';
import { healthProblem, type TargetStatus } from './status.js';

/** A commit wakes the forwarders at once; this only catches what no commit announced (a CLI replay). */
const POLL_INTERVAL_MS = 1000;
const GC_INTERVAL_MS = 5000;

export interface ForwardingDeps {
  readonly store: Store;
  readonly targets: readonly TargetConfig[];
  readonly metrics?: Metrics;
  readonly log?: ForwardLog;
  readonly nowMs?: () => number;
  /** See ForwarderDeps.steadyMs. */
  readonly steadyMs?: () => number;
  readonly random?: () => number;
  readonly pollIntervalMs?: number;
  readonly gcIntervalMs?: number;
  /** See GcOptions.deletableThrough: the renewal state's hold on the log. */
  readonly deletableThrough?: () => number;
  /** See ForwarderDeps.roundBuilder. */
  readonly roundBuilder?: ForwarderDeps['roundBuilder'];
}

export class Forwarding {
  readonly forwarders: readonly Forwarder[];
  readonly gc: GarbageCollector;
  readonly #store: Store;
  readonly #nowMs: () => number;
  readonly #pollIntervalMs: number;
  #poll: NodeJS.Timeout | undefined;
  #stopped: Promise<void> | undefined;

  constructor(deps: ForwardingDeps) {
    this.#store = deps.store;
    this.#nowMs = deps.nowMs ?? Date.now;
    this.#pollIntervalMs = deps.pollIntervalMs ?? POLL_INTERVAL_MS;
    this.forwarders = deps.targets.map(
      (target) =>
        new Forwarder({
          store: deps.store,
          target,
          ...(deps.metrics && { metrics: deps.metrics }),
          ...(deps.log && { log: deps.log }),
          ...(deps.nowMs && { nowMs: deps.nowMs }),
          ...(deps.steadyMs && { steadyMs: deps.steadyMs }),
          ...(deps.random && { random: deps.random }),
          ...(deps.roundBuilder && { roundBuilder: deps.roundBuilder }),
        }),
    );
    const names = deps.targets.map((t) => t.name);
    this.gc = new GarbageCollector(deps.store, names, {
      intervalMs: deps.gcIntervalMs ?? GC_INTERVAL_MS,
      ...(deps.deletableThrough && { deletableThrough: deps.deletableThrough }),
      onResult: (result) => {
        deps.metrics?.gcBatchesDeleted.inc(result.batches);
        deps.metrics?.gcVacuumedBytes.inc(result.vacuumedBytes);
        if (result.vacuumedBytes > 0) deps.log?.info({ ...result }, 'store file shrunk after delivered batches were deleted');
      },
      onError: (err) => deps.log?.error({ err }, 'store garbage collection failed'),
    });
  }

  /**
   * Starts every forwarder from its cursor, the poll and the GC. The cursors of
   * targets no longer configured were forgotten before (removed-targets.ts).
   */
  start(): this {
    for (const forwarder of this.forwarders) forwarder.start();
    if (this.forwarders.length > 0) {
      this.#poll = setInterval(() => this.wake(), this.#pollIntervalMs);
      this.#poll.unref();
    }
    this.gc.start();
    return this;
  }

  /** New batches are committed: idle forwarders send them now. */
  wake(): void {
    for (const forwarder of this.forwarders) forwarder.wake();
  }

  statuses(nowMs = this.#nowMs()): TargetStatus[] {
    return this.forwarders.map((f) => f.status(nowMs));
  }

  /** One failing check per target that refuses everything or lags beyond its health_max_lag_seconds. */
  healthChecks(nowMs = this.#nowMs()): HealthCheck[] {
    const checks: HealthCheck[] = [];
    for (const forwarder of this.forwarders) {
      const problem = healthProblem(forwarder.status(nowMs), forwarder.target);
      checks.push(
        problem === undefined
          ? { name: `target ${forwarder.name}`, status: 'pass' }
          : { name: `target ${forwarder.name}`, status: 'fail', message: problem },
      );
    }
    return checks;
  }

  /** Gives every forwarder up to graceMs to deliver what is pending, in parallel; then the store may close. */
  stop(graceMs: number): Promise<void> {
    this.#stopped ??= (async () => {
      clearInterval(this.#poll);
      await Promise.all(this.forwarders.map((f) => f.stop(graceMs)));
      await this.gc.stop();
    })();
    return this.#stopped;
  }
}
