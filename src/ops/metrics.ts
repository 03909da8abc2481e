// Every metric the relay exports, declared once. Each app gets its own
// registry so tests can build several apps in one process. docs/metrics.md
// lists them all; test/ops/metrics.test.ts keeps the two in step.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { TargetStatus } from '../forward/status.js';

export type Endpoint = 'v1' | 'v2';

export interface MetricsSources {
  storeSizeBytes(): number;
  storeMaxBytes(): number;
  /** Per-target delivery status, read at scrape time (cheap: counters and index lookups). */
  forwardTargets?(): readonly TargetStatus[];
}

// One read of the targets' status serves all the per-target gauges of a scrape: the first
// of them (in registration order, which is collection order) reads, the others reuse it.
const TARGET_STATUS_MAX_AGE_MS = 5000;

export class Metrics {
  readonly registry = new Registry();

  readonly pointsReceived = new Counter({
    name: 'certrelay_points_received_total',
    help: 'Points accepted and durably committed, by write endpoint.',
    labelNames: ['endpoint'] as const,
    registers: [this.registry],
  });

  readonly pointsRejected = new Counter({
    name: 'certrelay_points_rejected_total',
    help: 'Lines refused at intake, by write endpoint and reason (parse, type_conflict, schema, store_full, shutting_down).',
    labelNames: ['endpoint', 'reason'] as const,
    registers: [this.registry],
  });

  readonly writesRefused = new Counter({
    name: 'certrelay_write_requests_refused_total',
    help: 'Write requests answered without storing anything, by endpoint and error code.',
    labelNames: ['endpoint', 'code'] as const,
    registers: [this.registry],
  });

  readonly requestDuration = new Histogram({
    name: 'certrelay_http_request_duration_seconds',
    help: 'HTTP request duration from arrival to the last byte of the answer, by route, method and status.',
    labelNames: ['route', 'method', 'status'] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [this.registry],
  });

  readonly commitDuration = new Histogram({
    name: 'certrelay_store_commit_duration_seconds',
    help: 'Duration of one group commit (one fsync-ed SQLite transaction).',
    buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
    registers: [this.registry],
  });

  readonly commitBatches = new Histogram({
    name: 'certrelay_store_commit_batches',
    help: 'Write requests sharing one group commit.',
    buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256],
    registers: [this.registry],
  });

  readonly forwardRequests = new Counter({
    name: 'certrelay_forward_requests_total',
    help: 'Requests sent to a target, by target and outcome class (delivered, network, timeout, server_error, throttled, too_large, rejected, unauthorized, forbidden, database_not_found, retention_policy_not_found, not_found, unexpected).',
    labelNames: ['target', 'outcome'] as const,
    registers: [this.registry],
  });

  readonly forwardSendDuration = new Histogram({
    name: 'certrelay_forward_send_duration_seconds',
    help: 'One request to a target, gzip included, from start to the end of its answer, by target.',
    labelNames: ['target'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });

  readonly forwardPointsDelivered = new Counter({
    name: 'certrelay_forward_points_delivered_total',
    help: 'Points a target accepted (2xx), by target. Resent points count again.',
    labelNames: ['target'] as const,
    registers: [this.registry],
  });

  readonly forwardPointsDeadLettered = new Counter({
    name: 'certrelay_forward_points_dead_lettered_total',
    help: 'Points a target refused for good and that were kept as dead letters, by target.',
    labelNames: ['target'] as const,
    registers: [this.registry],
  });

  readonly gcBatchesDeleted = new Counter({
    name: 'certrelay_store_gc_batches_deleted_total',
    help: 'Batches deleted from the store because every target had delivered them.',
    registers: [this.registry],
  });

  readonly gcVacuumedBytes = new Counter({
    name: 'certrelay_store_gc_vacuumed_bytes_total',
    help: 'Bytes the store file gave back to the file system after delivered batches were deleted.',
    registers: [this.registry],
  });

  constructor(sources: MetricsSources) {
    let cached: { atMs: number; statuses: readonly TargetStatus[] } | undefined;
    const targets = (fresh: boolean): readonly TargetStatus[] => {
      const now = performance.now();
      if (fresh || cached === undefined || now - cached.atMs > TARGET_STATUS_MAX_AGE_MS) {
        cached = { atMs: now, statuses: sources.forwardTargets?.() ?? [] };
      }
      return cached.statuses;
    };
    let first = true;
    const perTarget = (name: string, help: string, value: (s: TargetStatus) => number | undefined): void => {
      const fresh = first;
      first = false;
      new Gauge({
        name,
        help,
        labelNames: ['target'] as const,
        registers: [this.registry],
        collect() {
          this.reset();
          for (const status of targets(fresh)) {
            const v = value(status);
            if (v !== undefined) this.set({ target: status.target }, v);
          }
        },
      });
    };
    perTarget('certrelay_forward_backlog_points', 'Points received but not yet delivered to the target.', (s) => s.backlogPoints);
    perTarget('certrelay_forward_backlog_bytes', 'Bytes of line protocol (before gzip) not yet delivered to the target.', (s) => s.backlogBytes);
    perTarget(
      'certrelay_forward_oldest_unsent_age_seconds',
      'How long ago the oldest point not yet delivered to the target was received; 0 when nothing waits.',
      (s) => s.oldestUnsentAgeSeconds,
    );
    perTarget(
      'certrelay_forward_last_success_timestamp_seconds',
      'Unix time of the target\'s last 2xx answer; absent until the first one.',
      (s) => (s.lastSuccessMs === null ? undefined : s.lastSuccessMs / 1000),
    );
    perTarget('certrelay_forward_dead_letters', 'Dead letters of the target waiting in the store (replay or purge them).', (s) => s.deadLetters);
    perTarget(
      'certrelay_forward_target_healthy',
      '0 while the target refuses everything (401, 403, 404 …) and data is held for it; 1 otherwise.',
      (s) => (s.heldBecause === null ? 1 : 0),
    );

    new Gauge({
      name: 'certrelay_store_size_bytes',
      help: 'Size of the SQLite store on disk (database and WAL).',
      registers: [this.registry],
      collect() {
        this.set(sources.storeSizeBytes());
      },
    });
    new Gauge({
      name: 'certrelay_store_max_bytes',
      help: 'Configured store limit (store.max_bytes); writes get 503 beyond it.',
      registers: [this.registry],
      collect() {
        this.set(sources.storeMaxBytes());
      },
    });
    collectDefaultMetrics({ register: this.registry, prefix: 'certrelay_' });
  }
}
