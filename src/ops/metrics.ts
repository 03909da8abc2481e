// Every metric the relay exports, declared once. Each app gets its own
// registry so tests can build several apps in one process. docs/metrics.md
// lists them all; test/ops/metrics.test.ts keeps the two in step.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { TargetStatus } from '../forward/status.js';
import { STORE_FULL_REASONS, type StoreFullReason } from '../log/store.js';
import type { RenewalState } from '../renewals/policy.js';

export type Endpoint = 'v1' | 'v2';

export interface MetricsSources {
  storeSizeBytes(): number;
  storeMaxBytes(): number;
  /** Why writes get 503 for a full store now; undefined while there is room. */
  storeFullReason?(): StoreFullReason | undefined;
  /** Free space on the store's file system, in bytes. */
  storeDiskFreeBytes?(): number | undefined;
  /** Client connections open now (server.max_connections is their limit). */
  openConnections?(): number;
  /** Bytes of write bodies held now (server.max_inflight_body_bytes is their limit). */
  inflightBodyBytes?(): number;
  /** Per-target delivery status, read at scrape time (cheap: counters and index lookups). */
  forwardTargets?(): readonly TargetStatus[];
  /** Every known certificate with its live state (not the stored verdict), read at scrape time. */
  certificates?(): readonly CertificateGauges[];
  /** When the renewal evaluator last ran; undefined before its first run. */
  evaluatorLastRunMs?(): number | undefined;
  /** renewals.evaluation_interval_seconds; undefined when renewal monitoring is off. */
  evaluatorIntervalSeconds?(): number | undefined;
  /** Undelivered notifications per configured channel. */
  pendingNotifications?(): ReadonlyMap<string, number>;
}

/** What the certbot_renewal_* gauges show of one certificate; times in ms since the epoch. */
export interface CertificateGauges {
  readonly host: string;
  readonly domain: string;
  readonly state: RenewalState;
  readonly lastSuccessMs?: number | undefined;
  readonly expectedMs: number;
  readonly overdueMs: number;
  readonly notAfterMs?: number | undefined;
}

// One read of the targets' status (or of the certificates) serves all the gauges of a scrape
// built on it: the first of them (in registration order, which is collection order) reads,
// the others reuse it.
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
    help: 'Lines refused at intake, by write endpoint and reason (parse, type_conflict, schema, store_full, store_failed).',
    labelNames: ['endpoint', 'reason'] as const,
    registers: [this.registry],
  });

  readonly writesRefused = new Counter({
    name: 'certrelay_write_requests_refused_total',
    help: 'Write requests answered without storing anything, by endpoint and error code.',
    labelNames: ['endpoint', 'code'] as const,
    registers: [this.registry],
  });

  readonly connectionsDropped = new Counter({
    name: 'certrelay_http_connections_dropped_total',
    help: 'Client connections closed as they arrived because server.max_connections were open.',
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

  readonly renewalsUntracked = new Counter({
    name: 'certrelay_renewals_untracked_reports_total',
    help: 'Renewal reports of certificates not tracked because renewals.max_certificates was reached (stored and forwarded all the same).',
    registers: [this.registry],
  });

  readonly notificationsSent = new Counter({
    name: 'certrelay_renewal_notifications_sent_total',
    help: 'Renewal notifications a channel accepted, by channel and kind (overdue, recovered, reminder).',
    labelNames: ['channel', 'kind'] as const,
    registers: [this.registry],
  });

  readonly notificationsFailed = new Counter({
    name: 'certrelay_renewal_notifications_failed_total',
    help: 'Attempts to deliver a renewal notification that failed and will be retried, by channel and kind.',
    labelNames: ['channel', 'kind'] as const,
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
      '0 while data is held for the target: it refuses everything (401, or an unexpected answer) or one of its databases (403, database or retention policy not found); 1 otherwise.',
      (s) => (s.heldBecause === null ? 1 : 0),
    );

    this.#readGauge('certrelay_store_size_bytes', 'Size of the SQLite store on disk (database and WAL).', () => sources.storeSizeBytes());
    this.#readGauge('certrelay_store_max_bytes', 'Configured store limit (store.max_bytes); writes get 503 beyond it.', () => sources.storeMaxBytes());
    new Gauge({
      name: 'certrelay_store_full',
      help: '1 while writes get 503 because the store is full, by reason (max_bytes: store.max_bytes reached; disk_space: less than store.min_free_bytes free on its disk); 0 otherwise.',
      labelNames: ['reason'],
      registers: [this.registry],
      collect() {
        const reason = sources.storeFullReason?.();
        for (const each of STORE_FULL_REASONS) this.set({ reason: each }, reason === each ? 1 : 0);
      },
    });
    this.#readGauge(
      'certrelay_store_disk_free_bytes',
      'Free space on the file system that holds the store, as an unprivileged process may use it.',
      () => sources.storeDiskFreeBytes?.(),
    );
    this.#readGauge(
      'certrelay_http_connections',
      'Client connections open now; past server.max_connections new ones are closed (certrelay_http_connections_dropped_total).',
      () => sources.openConnections?.(),
    );
    this.#readGauge(
      'certrelay_http_inflight_body_bytes',
      'Bytes of write bodies held now, after decompression, from their first byte until their answer; past server.max_inflight_body_bytes writes get 503 (code CR_BODIES_IN_FLIGHT in certrelay_write_requests_refused_total).',
      () => sources.inflightBodyBytes?.(),
    );
    this.#registerRenewalGauges(sources);
    collectDefaultMetrics({ register: this.registry, prefix: 'certrelay_' });
  }

  /** A gauge read at scrape time from one source; absent while the source has no value. */
  #readGauge(name: string, help: string, read: () => number | undefined): void {
    new Gauge({
      name,
      help,
      registers: [this.registry],
      collect() {
        this.reset();
        const value = read();
        if (value !== undefined) this.set(value);
      },
    });
  }

  #registerRenewalGauges(sources: MetricsSources): void {
    // One read of the certificates serves the five gauges of a scrape: the first reads, the others reuse it.
    let cached: { atMs: number; certificates: readonly CertificateGauges[] } | undefined;
    const exported = (fresh: boolean): readonly CertificateGauges[] => {
      const now = performance.now();
      if (fresh || cached === undefined || now - cached.atMs > TARGET_STATUS_MAX_AGE_MS) {
        cached = { atMs: now, certificates: (sources.certificates?.() ?? []).filter((c) => c.state !== 'retired') };
      }
      return cached.certificates;
    };
    const perCertificate = (
      name: string,
      help: string,
      value: (c: CertificateGauges) => number | undefined,
      read = false,
    ): void => {
      new Gauge({
        name,
        help,
        labelNames: ['domain', 'host'] as const,
        registers: [this.registry],
        collect() {
          this.reset();
          for (const c of exported(read)) {
            const v = value(c);
            if (v !== undefined) this.set({ domain: c.domain, host: c.host }, v);
          }
        },
      });
    };
    const seconds = (ms: number | undefined) => (ms === undefined ? undefined : ms / 1000);
    perCertificate(
      'certbot_renewal_overdue',
      '1 while the certificate\'s renewal is overdue, 0 otherwise (a snoozed one is 0). Retired certificates are not exported.',
      (c) => (c.state === 'overdue' ? 1 : 0),
      true,
    );
    perCertificate(
      'certbot_renewal_last_success_timestamp_seconds',
      'Unix time of the newest reported renewal; absent for an expected certificate that never reported.',
      (c) => seconds(c.lastSuccessMs),
    );
    perCertificate('certbot_renewal_expected_timestamp_seconds', 'Unix time the next renewal is expected.', (c) => seconds(c.expectedMs));
    perCertificate(
      'certbot_renewal_overdue_timestamp_seconds',
      'Unix time from which the renewal counts as overdue: the expected time plus renewals.grace_days.',
      (c) => seconds(c.overdueMs),
    );
    perCertificate(
      'certbot_renewal_not_after_timestamp_seconds',
      'Unix time the newest certificate expires, when the hook reported it.',
      (c) => seconds(c.notAfterMs),
    );
    this.#readGauge(
      'certrelay_renewal_evaluator_last_run_timestamp_seconds',
      'Unix time of the renewal evaluator\'s last run (the heartbeat); absent before the first.',
      () => seconds(sources.evaluatorLastRunMs?.()),
    );
    this.#readGauge(
      'certrelay_renewal_evaluator_interval_seconds',
      'How often the renewal evaluator runs (renewals.evaluation_interval_seconds): what the heartbeat\'s age is judged against.',
      () => sources.evaluatorIntervalSeconds?.(),
    );
    new Gauge({
      name: 'certrelay_renewal_notifications_pending',
      help: 'Renewal notifications waiting for their channel to accept them, by channel.',
      labelNames: ['channel'] as const,
      registers: [this.registry],
      collect() {
        this.reset();
        for (const [channel, pending] of sources.pendingNotifications?.() ?? []) this.set({ channel }, pending);
      },
    });
  }
}
