// buildApp wires the relay: store → group commit → intake → routes. It never
// listens and never touches process.*, so tests use app.inject() or listen
// on port 0 themselves.
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { randomUUID } from 'node:crypto';
import { availableParallelism } from 'node:os';
import type { Server as TlsServer } from 'node:tls';
import { systemClock, type Clock } from './clock.js';
import type { Config } from './config/defaults.js';
import { RelayError } from './errors.js';
import { Forwarding } from './forward/forwarders.js';
import type { RoundJob } from './forward/round-job.js';
import { Authorizer } from './http/auth.js';
import { sendError, sendRelayError, type Api } from './http/error-reply.js';
import { acceptAnyContentType } from './http/any-content-type.js';
import { clientErrorHandler } from './http/client-error.js';
import { hostIsLoopback, isLoopback, refuseWebPages } from './http/same-site.js';
import { KNOWN_DATABASES_MAX, KnownDatabases, registerQueryStub } from './http/query-stub.js';
import { registerRenewalRoutes } from './http/renewal-routes.js';
import { registerStatusRoutes, type HealthCheck } from './http/status-routes.js';
import { Intake } from './ingest/intake.js';
import { DEFAULT_MIN_WORKER_BODY_BYTES, PreparePool, workersFor } from './ingest/prepare-pool.js';
import { registerWriteV1 } from './ingest/write-v1.js';
import { registerWriteV2 } from './ingest/write-v2.js';
import { forgetRemovedTargets, type ForgottenTarget } from './forward/removed-targets.js';
import type { TargetStatus } from './forward/status.js';
import { GroupCommit } from './log/group-commit.js';
import { RefusalLog } from './log/refusal-log.js';
import { BodyBudget } from './ingest/body-budget.js';
import { capConnections } from './http/connection-cap.js';
import { AnswersInFlight } from './http/answers-in-flight.js';
import { parseQueryLikeGo } from './http/query-string.js';
import { ExpectContinue } from './http/expect-continue.js';
import { protectReads } from './http/read-access.js';
import { loadTlsFiles } from './http/tls-files.js';
import { TlsReload, type TlsCheck } from './http/tls-reload.js';
import { answerPlainHttpOnTls } from './http/plain-http-on-tls.js';
import { burstWarning } from './log/burst-warning.js';
import { Store, createStoreDirectory, freeSpaceOf, isStoreFullError } from './log/store.js';
import { StoreLock } from './log/store-lock.js';
import { fullCollection, IdleCollection } from './ops/idle-collection.js';
import { Metrics } from './ops/metrics.js';
import { RenewalMonitoring, renewalPolicy } from './renewals/monitoring.js';
import { RenewalStore } from './renewals/renewal-store.js';
import { INFLUXDB_BUILD, INFLUXDB_COMPATIBLE_VERSION } from './version.js';
import { registerWebPage } from './web/routes.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    api?: Api;
  }
}

/** Their refusals count in certrelay_write_requests_refused_total. */
const WRITE_ROUTES: ReadonlySet<string> = new Set(['/write', '/api/v2/write']);

/** The longest a request may take to arrive, head and body: then 408 and the connection is closed. */
export const REQUEST_TIMEOUT_MS = 300_000;
/** Node's default headersTimeout, set explicitly so that the 408's message can name it. */
const HEADERS_TIMEOUT_MS = 60_000;

export interface AppDeps {
  readonly clock?: Clock;
  readonly logger?: boolean | object;
  /** Prepares large bodies off the main thread; the relay closes it. For tests (a worker that crashes). */
  readonly preparePool?: PreparePool;
  /** Targets no longer configured whose undelivered points the operator gives up (--forget-target). */
  readonly forgetTargets?: readonly string[];
}

export interface Relay {
  readonly app: FastifyInstance;
  readonly store: Store;
  readonly intake: Intake;
  readonly metrics: Metrics;
  /** One forwarder per configured target, and the log's garbage collector. */
  readonly forwarding: Forwarding;
  /** Per-certificate renewal state: merged by each commit, written within ~200 ms and before any read of it. */
  readonly renewals: RenewalStore;
  /** The renewal evaluator, the notification outbox and its delivery loop. */
  readonly monitoring: RenewalMonitoring;
  /** Every route served, as "METHOD /path" (for the openapi.yaml check). */
  readonly routes: readonly string[];
  /** Reads server.tls_cert and server.tls_key again now (SIGHUP); undefined without TLS. Also done every minute. */
  rereadTls(): TlsCheck | undefined;
  /**
   * Stops intake (503), finishes the commits under way, closes the server, lets
   * the forwarders deliver for what is left of server.shutdown_grace_ms, and
   * closes the store.
   */
  close(): Promise<void>;
}

export function buildApp(config: Config, deps: AppDeps = {}): Relay {
  const clock = deps.clock ?? systemClock();
  // Before the store is opened: a certificate or key that cannot be used leaves nothing to close.
  const tls = config.server.tlsCert !== undefined && config.server.tlsKey !== undefined ? loadTlsFiles(config.server.tlsCert, config.server.tlsKey) : undefined;
  createStoreDirectory(config.store.path);
  const lock = StoreLock.acquire(config.store.path);
  let store: Store | undefined;
  let forgotten: ForgottenTarget[];
  let repointed: string[];
  try {
    store = Store.open({
      dir: config.store.path,
      maxBytes: config.store.maxBytes,
      minFreeBytes: config.store.minFreeBytes,
      targets: config.targets.map((t) => t.name),
    });
    forgotten = forgetRemovedTargets(
      store,
      config.targets.map((t) => t.name),
      deps.forgetTargets,
    );
    repointed = store.noteTargetDestinations(config.targets.map((t) => ({ target: t.name, destination: `${t.kind} ${t.url}` })));
  } catch (err) {
    store?.close();
    lock.release();
    throw err;
  }
  let forwarding: Forwarding | undefined;
  const metrics = new Metrics({
    storeSizeBytes: () => store.sizeBytes(),
    storeMaxBytes: () => config.store.maxBytes,
    storeFullReason: () => store.fullReason(),
    storeDiskFreeBytes: () => freeSpaceOf(config.store.path),
    forwardTargets: () => forwarding?.statuses() ?? [],
    certificates: () => monitoring?.certificateGauges() ?? [],
    evaluatorLastRunMs: () => monitoring?.evaluatorLastRunMs(),
    evaluatorIntervalSeconds: () => (monitoring === undefined ? undefined : config.renewals.evaluationIntervalSeconds),
    pendingNotifications: () => monitoring?.pendingNotifications() ?? new Map(),
    inflightBodyBytes: () => bodyBudget.heldBytes,
    openConnections: () => connections.open(),
  });
  let renewals: RenewalStore;
  let recoveredBatches: number;
  try {
    renewals = new RenewalStore(store, renewalPolicy(config.renewals), {
      certbotMeasurement: config.validation.certbotMeasurement,
      maxCertificates: config.renewals.maxCertificates,
    });
    // Before serving: what a crash left unapplied is written from the log.
    recoveredBatches = renewals.recover();
  } catch (err) {
    store.close();
    lock.release();
    throw err;
  }
  let monitoring: RenewalMonitoring | undefined;
  let renewedInCommit = false;
  const collect = fullCollection();
  const idleCollection =
    collect === undefined
      ? undefined
      : new IdleCollection({
          collect,
          nowMs: () => performance.now(),
          onCollected: ({ points, durationMs }) => app.log.debug({ points, durationMs }, 'idle after a burst of writes: collected the heap'),
        }).start();
  const groupCommit = new GroupCommit(
    (batches) => {
      // Only the transaction: whatever throws in here means "not stored", and the group commit retries.
      store.transaction(() => {
        const lastBatchId = store.appendBatches(batches);
        renewedInCommit = renewals.record(batches, lastBatchId) > 0;
      });
    },
    {
      onCommit: ({ durationMs, batches, points }) => {
        refusals.accepted();
        idleCollection?.committed(points);
        metrics.commitDuration.observe(durationMs / 1000);
        metrics.commitBatches.observe(batches);
        // An idle forwarder sends at once: one certbot report never waits for a timer.
        forwarding?.wake();
        if (renewedInCommit) monitoring?.renewalsStored();
        noteUntracked(renewals.takeUntracked());
        if (renewals.hasPendingRenewals) monitoring?.applySoon();
      },
    },
  );
  const preparePool =
    deps.preparePool ?? new PreparePool({ workers: workersFor(availableParallelism()), minBodyBytes: DEFAULT_MIN_WORKER_BODY_BYTES });
  const intake = new Intake({
    commit: (batches) => groupCommit.submit(batches),
    onCommitFailed: (err) => {
      if (isStoreFullError(err)) refusals.full(store.fullReason() ?? 'disk_space', err);
      else refusals.failed(err);
    },
    isStoreFull: () => {
      const reason = store.fullReason();
      if (reason !== undefined) refusals.full(reason);
      return reason !== undefined;
    },
    isStoreFullError,
    clock,
    rules: {
      certbotMeasurement: config.validation.certbotMeasurement,
      maxFutureNs: BigInt(config.validation.maxFutureSeconds) * 1_000_000_000n,
    },
    metrics,
    preparePool,
  });
  const authorizer = new Authorizer(config.auth.tokens);
  // SHOW DATABASES lists what earlier runs stored too: the influx CLI's `use DB` checks that list,
  // and after a restart it would otherwise refuse every database until the next write to it.
  const databases = new KnownDatabases(store.writtenDatabases(KNOWN_DATABASES_MAX));

  const answersInFlight = new AnswersInFlight();
  const app = Fastify({
    logger: deps.logger ?? false,
    ...(tls ? { https: tls } : {}),
    genReqId: () => randomUUID(),
    // Per-request logs would cost more than the write itself, and URLs can carry ?p=secret.
    logController: new LogController({ disableRequestLogging: true }),
    // Our own handlers answer 503 + Retry-After while closing, in each API's format.
    return503OnClosing: false,
    exposeHeadRoutes: false, // HEAD is served where InfluxDB serves it (/ping), and documented there
    forceCloseConnections: 'idle',
    // A client that stalls mid-body cannot hold its connection and buffered bytes for ever (Node's own default;
    // fastify's is none). Nothing of such a request was acknowledged.
    requestTimeout: REQUEST_TIMEOUT_MS,
    routerOptions: { querystringParser: parseQueryLikeGo },
    clientErrorHandler: clientErrorHandler({ headersMs: HEADERS_TIMEOUT_MS, requestMs: REQUEST_TIMEOUT_MS }, answersInFlight),
  }) as unknown as FastifyInstance;

  app.server.headersTimeout = HEADERS_TIMEOUT_MS;
  // First, before the listeners below count connections: it takes the TLS server's own place.
  if (tls !== undefined) answerPlainHttpOnTls(app.server as unknown as TlsServer);
  const tlsReload =
    tls === undefined
      ? undefined
      : new TlsReload({ certPath: config.server.tlsCert!, keyPath: config.server.tlsKey!, served: tls, server: app.server as unknown as TlsServer, log: app.log }).start();
  answersInFlight.attach(app.server);
  const refusals = new RefusalLog(app.log, store, { hasTargets: config.targets.length > 0 });
  const warnDropped = burstWarning(
    (obj, msg) => app.log.warn(obj, msg),
    'server.max_connections reached: new connections are closed as they arrive until some close',
  );
  const connections = capConnections(app.server, config.server.maxConnections, (open) => {
    metrics.connectionsDropped.inc();
    warnDropped({ open, maxConnections: config.server.maxConnections });
  });
  const warnBudget = burstWarning(
    (obj, msg) => app.log.warn(obj, msg),
    'write bodies in flight reached server.max_inflight_body_bytes: further writes get 503 until some are answered',
  );
  const bodyBudget = new BodyBudget(config.server.maxInflightBodyBytes, (heldBytes) => warnBudget({ heldBytes, maxBytes: config.server.maxInflightBodyBytes }));
  let warnedUntracked = false;
  const noteUntracked = (reports: number): void => {
    if (reports === 0) return;
    metrics.renewalsUntracked.inc(reports);
    if (warnedUntracked) return;
    warnedUntracked = true;
    app.log.warn(
      { maxCertificates: config.renewals.maxCertificates },
      'renewals.max_certificates reached: reports of further certificates, and domain=all totals of further hosts, are stored and forwarded, but not tracked (certrelay_renewals_untracked_reports_total counts them)',
    );
  };
  for (const target of store.newTargets) {
    const { points, batches } = store.newTargetsStartAtBeginning ? store.backlog(target) : { points: 0, batches: 0 };
    if (points > 0) {
      app.log.info({ target, points, batches }, 'new target, the first this store has had: it gets every point the store kept without targets, then what arrives');
    } else app.log.info({ target }, 'new target: it starts at the end of the log, with what arrives from now on');
  }
  for (const { target, points, batches, heldPoints } of forgotten) {
    if (points > 0 || heldPoints > 0) {
      app.log.warn({ target, points, batches, heldPoints }, 'forgot a target no longer configured, as asked: these points will not be sent to it');
    } else app.log.info({ target }, 'forgot the cursor of a target no longer configured (it had received everything)');
  }
  for (const target of repointed) {
    app.log.info({ target }, 'target points at a new URL (or kind): its last error and last success, which were the old one\'s, are forgotten');
  }
  if (recoveredBatches > 0) app.log.info({ batches: recoveredBatches }, 'renewal state: read back from the log the batches it had not taken in (the relay was not stopped cleanly)');
  // GC keeps every batch the renewal state has not taken in yet; applying first means it never waits.
  forwarding = new Forwarding({
    store,
    targets: config.targets,
    metrics,
    log: app.log,
    deletableThrough: () => renewals.deletableThrough(),
    ...(preparePool.workers > 0 && { roundBuilder: (job: RoundJob) => preparePool.buildRound(job) }),
  }).start();
  monitoring = new RenewalMonitoring({ store, renewals, config, clock, counters: metrics, log: app.log }).start();

  const routes: string[] = [];
  app.addHook('onRoute', (route) => {
    for (const method of [route.method].flat()) routes.push(`${method} ${route.url}`);
  });

  const loopbackOnly = isLoopback(config.server.host);
  app.addHook('onRequest', async (request, reply) => {
    reply.header('X-Influxdb-Version', INFLUXDB_COMPATIBLE_VERSION);
    reply.header('X-Influxdb-Build', INFLUXDB_BUILD);
    reply.header('Request-Id', request.id);
    reply.header('X-Request-Id', request.id);
    if (loopbackOnly && !hostIsLoopback(request.headers.host)) throw new RelayError('CR_HOST_NOT_LOOPBACK', JSON.stringify(request.headers.host));
  });
  app.addHook('onResponse', async (request, reply) => {
    metrics.requestDuration.observe(
      { route: request.routeOptions.url ?? 'unmatched', method: request.method, status: String(reply.statusCode) },
      reply.elapsedTime / 1000,
    );
  });

  app.setErrorHandler((err, request, reply) => {
    const api: Api = request.routeOptions.config.api ?? 'v1';
    if (err instanceof RelayError) {
      if (WRITE_ROUTES.has(request.routeOptions.url ?? '') && [401, 403, 413, 503].includes(err.status)) {
        metrics.writesRefused.inc({ endpoint: api, code: err.code });
      }
      return sendRelayError(reply, api, err);
    }
    const { statusCode, message } = err as { statusCode?: unknown; message?: unknown };
    const status = typeof statusCode === 'number' && statusCode >= 400 ? statusCode : 500;
    // A client that went away mid-upload is no fault of the relay (and would flood the log at error level).
    if (request.raw.aborted || (err as { code?: unknown }).code === 'ECONNRESET') request.log.debug({ err }, 'client went away before its request was read');
    else if (status >= 500) request.log.error({ err }, 'request failed');
    return sendError(reply, api, status, typeof message === 'string' ? message : 'internal error');
  });
  app.setNotFoundHandler((request, reply) => {
    const api: Api = request.url.startsWith('/api/v2') ? 'v2' : 'v1';
    return sendRelayError(reply, api, new RelayError('CR_NOT_FOUND', request.method, request.url.split('?', 1)[0]));
  });

  const expectContinue = new ExpectContinue(app.server, (url) => /^\/(?:write|api\/v2\/write)(?:\?|$)/.test(url));
  const writeDeps = {
    intake,
    authorizer,
    maxBodyBytes: config.server.maxBodyBytes,
    bodyBudget,
    onDatabase: (db: string) => databases.remember(db),
    answersInFlight,
    expectContinue,
  };
  app.register(async (writes) => {
    writes.addHook('onSend', (request, reply, payload, done) => {
      // Refused before its body was asked for: the client never sends it, so the connection cannot go on.
      if (expectContinue.isWaiting(request.raw)) reply.header('Connection', 'close');
      done(null, payload);
    });
    // Write bodies are read by readBody (size caps, gzip), whatever their Content-Type: curl sends a form type.
    acceptAnyContentType(writes);
    refuseWebPages(writes);
    registerWriteV1(writes, writeDeps);
    registerWriteV2(writes, writeDeps);
  });
  registerQueryStub(app, {
    authorizer,
    databases,
  });
  registerStatusRoutes(app, {
    healthChecks: () => [
      storeCheck(store),
      ...forwarding.healthChecks(),
    ],
    notReadyReason: () => {
      if (intake.closing) return 'shutting down';
      const reason = store.fullReason();
      return reason === undefined ? undefined : `store is full (${reason === 'max_bytes' ? 'store.max_bytes' : 'disk space'})`;
    },
  });
  app.register(async (reads) => {
    if (config.auth.protectReads) protectReads(reads, authorizer);
    registerRenewalRoutes(reads, { renewals, clock, tokens: config.auth.tokens, onAction: () => monitoring?.operatorActed() });
    registerWebPage(reads, { renewals, clock, targetStatuses: (nowMs) => forwarding?.statuses(nowMs) ?? [] });
    reads.get('/metrics', async (_request, reply) => {
      const text = await metrics.registry.metrics();
      return reply.type(metrics.registry.contentType).send(text);
    });
  });

  // Once stopping, every answer ends its connection, so keep-alive clients reconnect elsewhere
  // instead of reusing a socket the server is about to drop.
  app.addHook('onSend', async (_request, reply) => {
    if (intake.closing) reply.header('Connection', 'close');
  });

  let closed: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closed ??= (async () => {
      const deadline = performance.now() + config.server.shutdownGraceMs;
      const remainingMs = () => Math.max(0, deadline - performance.now());
      intake.close();
      tlsReload?.stop();
      await groupCommit.drain();
      idleCollection?.stop();
      // The listener stays open while the forwarders drain: a client that connects meanwhile gets 503 +
      // Retry-After (and /ready 503), which says "come back", instead of a refused connection.
      await forwarding.stop(remainingMs());
      logUndelivered(app.log, forwarding.statuses(), (target) => store.heldPoints(target));
      // Requests still uploading get what is left of the grace period (one that began before the stop may
      // still commit); then their connections are cut, and a request cut off was not acknowledged.
      const cut = setTimeout(() => app.server.closeAllConnections(), remainingMs());
      try {
        await app.close();
      } finally {
        clearTimeout(cut);
      }
      await groupCommit.drain();
      await preparePool.close(); // after the forwarders: they build large rounds on its workers while draining
      await monitoring.stop(remainingMs());
      try {
        // Not needed for correctness (a restart replays the log), but it leaves nothing to replay;
        // so a failure (a full store) is no failure of the stop.
        renewals.applyPending();
      } catch (err) {
        app.log.error({ err }, 'the pending renewal state could not be written; the next start applies it from the log');
      } finally {
        const notCheckpointed = store.close();
        if (notCheckpointed !== undefined) {
          app.log.warn({ err: notCheckpointed }, 'store closed with its WAL still to copy into the database file; the next start does it, nothing is lost');
        }
        lock.release();
      }
    })();
    return closed;
  };

  return { app, store, intake, metrics, forwarding, renewals, monitoring, routes, rereadTls: () => tlsReload?.check(), close };
}

function storeCheck(store: Store): HealthCheck {
  switch (store.fullReason()) {
    case undefined:
      return { name: 'store', status: 'pass' };
    case 'max_bytes':
      return { name: 'store', status: 'fail', message: `store is full (${store.sizeBytes()} of ${store.maxBytes} bytes${deadLettersKept(store)}): writes get 503` };
    case 'disk_space':
      return {
        name: 'store',
        status: 'fail',
        message: `the store's disk has ${store.diskFreeBytes()} bytes free, less than store.min_free_bytes (${store.minFreeBytes}): writes get 503`,
      };
  }
}

/** At a stop: what the targets have not received yet stays in the store, and the log says how much. */
/** heldPoints: the points of a target's held dead letters, kept aside until it has their database; not delivered either. */
function logUndelivered(log: FastifyBaseLogger, statuses: readonly TargetStatus[], heldPoints: (target: string) => number): void {
  if (statuses.length === 0) return;
  const waiting: Array<{ target: string; points: number; batches: number; heldPoints?: number }> = [];
  for (const s of statuses) {
    const held = heldPoints(s.target);
    if (s.backlogPoints === 0 && held === 0) continue;
    waiting.push({ target: s.target, points: s.backlogPoints, batches: s.backlogBatches, ...(held > 0 && { heldPoints: held }) });
  }
  if (waiting.length === 0) log.info('stopping: every target has received everything');
  else if (waiting.some((w) => w.heldPoints !== undefined)) {
    log.info({ targets: waiting }, 'stopping: points not yet delivered stay in the store; the next start sends them (held points once the target has their database or bucket)');
  } else log.info({ targets: waiting }, 'stopping: points not yet delivered stay in the store; the next start sends them');
}

/** Dead letters stay until an operator replays or purges them, so a store they fill stays full: say how many. */
function deadLettersKept(store: Store): string {
  const deadLetters = store.countDeadLetters();
  return deadLetters === 0 ? '' : `, ${deadLetters} dead letters kept in it until replayed or purged`;
}
