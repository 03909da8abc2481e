// Every metric the relay exports, declared once. Each app gets its own
// registry so tests can build several apps in one process. docs/metrics.md
// lists them all; test/ops/metrics.test.ts keeps the two in step.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export type Endpoint = 'v1' | 'v2';

export interface MetricsSources {
  storeSizeBytes(): number;
  storeMaxBytes(): number;
}

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

  constructor(sources: MetricsSources) {
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
