// The deferred renewal state where the log is not what the ingest's commits
// made it. A full store: writing what is pending takes room, and at the
// store's hard limit (max_bytes + 25 %, where SQLite refuses to grow the
// file) there is none; the relay must go on as it did when the state was
// written in the commit: garbage collection drains the log, reads answer, a
// stop succeeds and a start after a crash serves. A dead letter put back in
// the log: a batch no commit recorded, which must not stay for ever.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { buildApp } from '../../src/app.js';
import { loadConfig } from '../../src/config/load.js';
import { Store, isStoreFullError, type IncomingBatch } from '../../src/log/store.js';
import { DEFAULT_POLICY } from '../../src/renewals/policy.js';
import { RenewalStore } from '../../src/renewals/renewal-store.js';
import { relayFor } from '../support/relay.js';
import { CERTBOT_MEASUREMENT as MEASUREMENT, commit, request } from '../support/renewal-commits.js';

const T0_NS = 1_700_000_000_000n * 1_000_000n;
const RECEIVED_MS = Date.UTC(2026, 0, 1);
const CERTIFICATES = 300;
// A small store, so that filling it is quick; one unreachable target, whose cursor the tests move.
const TOML = '[server]\nmax_body_bytes = 65536\n[store]\nmax_bytes = 524288\n[[targets]]\nname = "sink"\nkind = "influxdb-v1"\nurl = "http://127.0.0.1:9"\n';

/**
 * Some batches whose state is written, then CERTIFICATES first reports left
 * pending (writing them takes new pages), then ordinary points until SQLite
 * refuses to grow the file. Receive times are 1 ms apart, so no commit is due
 * by age: nothing is written unless asked.
 */
function fillWithPendingRenewals(store: Store, renewals: RenewalStore): void {
  let received = RECEIVED_MS;
  const points = (bytes: number): IncomingBatch[] => [request([`cpu,host=x pad="${'x'.repeat(bytes)}" ${received}`], received++)];
  for (let i = 0; i < 8; i++) commit(store, renewals, points(16_384));
  renewals.applyPending();
  const reports = Array.from({ length: CERTIFICATES }, (_, i) => `${MEASUREMENT},domain=d${i}.long-enough-name.example,host=h renewed_count=1 ${T0_NS + BigInt(i)}`);
  commit(store, renewals, [request(reports, received++)]);
  for (const bytes of [16_384, 1024, 64]) {
    for (;;) {
      try {
        commit(store, renewals, points(bytes));
      } catch (err) {
        if (!isStoreFullError(err)) throw err;
        break;
      }
    }
  }
}

t.test("the relay's garbage collection drains a full store even when the pending renewals need room to be written", async (t) => {
  const relay = relayFor(t, TOML);
  const { store, renewals } = relay;
  fillWithPendingRenewals(store, renewals);
  t.throws(() => renewals.applyPending(), { name: 'StoreFullError' }, 'the pending renewals do not fit');

  // The target comes back and takes everything.
  store.advanceCursor('sink', store.lastBatchId(), [], [], RECEIVED_MS, true);
  const before = store.stats().batches;
  await relay.forwarding.gc.runOnce();
  t.equal(store.stats().batches, 0, `the batches the written state covered went first, then the rest (${before} before)`);
  t.equal(renewals.list().length, CERTIFICATES, 'with the room that made, the pending renewals were written');
});

t.test('reads answer while the store is too full to write what is pending: the metrics, the API, the CLI', async (t) => {
  const relay = relayFor(t, TOML);
  fillWithPendingRenewals(relay.store, relay.renewals);

  const metrics = await relay.app.inject({ method: 'GET', url: '/metrics' });
  t.equal(metrics.statusCode, 200, 'GET /metrics');
  t.match(metrics.body, /^certrelay_store_size_bytes \d+/m, 'with the store gauges that say why');
  const api = await relay.app.inject({ method: 'GET', url: '/api/v1/renewals' });
  t.equal(api.statusCode, 200, 'GET /api/v1/renewals: the state as written');
  t.equal((await relay.app.inject({ method: 'GET', url: '/' })).statusCode, 200, 'the web page');

  const cli = new RenewalStore(relay.store, DEFAULT_POLICY, { certbotMeasurement: MEASUREMENT });
  t.same(cli.view((r) => r.list()), [], "certrelay renewals' view: the state as written");
  t.throws(() => relay.renewals.setRetired('h', 'd0.long-enough-name.example', true), { name: 'StoreFullError' }, 'changes still fail');

  relay.store.advanceCursor('sink', relay.store.lastBatchId(), [], [], RECEIVED_MS, true);
  await relay.forwarding.gc.runOnce();
  t.equal(relay.renewals.list().length, CERTIFICATES, 'once there is room, reads see every renewal again');
});

t.test('a graceful stop with a full store succeeds: what does not fit is left to the log', async (t) => {
  const relay = relayFor(t, TOML);
  const { store, renewals } = relay;
  fillWithPendingRenewals(store, renewals);
  await t.resolves(relay.close(), 'close() resolves: the exit code is 0');

  const after = Store.open({ dir: join(store.file, '..'), maxBytes: Number.POSITIVE_INFINITY });
  t.teardown(() => after.close());
  const recovered = new RenewalStore(after, DEFAULT_POLICY, { certbotMeasurement: MEASUREMENT });
  recovered.recover();
  t.equal(recovered.list().length, CERTIFICATES, 'the next start, with room, applies them from the log');
});

t.test('after a crash with a full store and renewals that do not fit, the relay starts and drains it', async (t) => {
  const dir = t.testdir({});
  writeFileSync(join(dir, 'certrelay.toml'), TOML);
  const config = loadConfig({ file: join(dir, 'certrelay.toml'), env: { CERTRELAY_STORE_PATH: join(dir, 'store'), CERTRELAY_LISTEN: '127.0.0.1:0' } });
  const crashed = Store.open({ dir: config.store.path, maxBytes: config.store.maxBytes, targets: ['sink'] });
  const renewals = new RenewalStore(crashed, DEFAULT_POLICY, { certbotMeasurement: MEASUREMENT });
  renewals.recover();
  fillWithPendingRenewals(crashed, renewals);
  crashed.advanceCursor('sink', crashed.lastBatchId(), [], [], RECEIVED_MS, true);
  // The crash: the files as they are, the pending renewals never written.
  crashed.close();

  const relay = buildApp(config);
  t.teardown(() => relay.close());
  await relay.forwarding.gc.runOnce();
  t.equal(relay.store.stats().batches, 0, 'garbage collection drained the log');
  t.equal(relay.renewals.list().length, CERTIFICATES, 'and the renewals the crash left are written');
});

t.test('a dead letter put back in the log is deleted once delivered, without waiting for a write to follow it', async (t) => {
  const relay = relayFor(t, TOML);
  const line = `${MEASUREMENT},domain=a.example,host=h renewed_count=1 ${T0_NS}`;
  commit(relay.store, relay.renewals, [request([line], RECEIVED_MS)]);
  const refused = relay.store.lastBatchId();
  relay.store.advanceCursor('sink', refused, [], [{ batchId: refused, db: 'telegraf', rp: '', lines: line, points: 1, status: 400, error: 'refused' }], RECEIVED_MS, false);
  t.equal(relay.renewals.list()[0].renewals, 1);
  // As `certrelay dead-letters replay` or a held destination's release does it: a new batch, which no commit recorded.
  relay.store.replayDeadLetters({}, RECEIVED_MS + 1);
  relay.store.advanceCursor('sink', relay.store.lastBatchId(), [], [], RECEIVED_MS + 2, true);
  await relay.forwarding.gc.runOnce();
  t.equal(relay.store.stats().batches, 0, 'the delivered replay is gone, with no write after it');
  t.equal(relay.renewals.list()[0].renewals, 1, 'and its renewal, taken in when first stored, is not counted again');
});

t.test('a start after a graceful stop reports no crash when dead letters were put back in the log meanwhile', async (t) => {
  const dir = t.testdir();
  const open = (): { store: Store; renewals: RenewalStore } => {
    const store = Store.open({ dir, maxBytes: 1 << 30, targets: ['sink'] });
    return { store, renewals: new RenewalStore(store, DEFAULT_POLICY, { certbotMeasurement: MEASUREMENT }) };
  };
  const line = `${MEASUREMENT},domain=a.example,host=h renewed_count=1 ${T0_NS}`;
  const running = open();
  t.equal(running.renewals.recover(), 0, 'a new store has nothing to read back');
  commit(running.store, running.renewals, [request([line], RECEIVED_MS)]);
  const refused = running.store.lastBatchId();
  running.store.advanceCursor('sink', refused, [], [{ batchId: refused, db: 'telegraf', rp: '', lines: line, points: 1, status: 400, error: 'refused' }], RECEIVED_MS, false);
  // `certrelay dead-letters replay`, from another process, while the relay runs.
  running.store.replayDeadLetters({}, RECEIVED_MS + 1);
  // The graceful stop: what is pending is written, then the store is closed.
  running.renewals.applyPending();
  running.store.close();

  const restarted = open();
  t.equal(restarted.renewals.recover(), 0, 'the replayed batch is no batch a crash left: the relay does not log "not stopped cleanly"');
  t.equal(restarted.renewals.list()[0].renewals, 1, 'and the renewal it repeats is not counted again');
  // A crash still counts: a client's batch committed, its renewal never written.
  commit(restarted.store, restarted.renewals, [request([`${MEASUREMENT},domain=b.example,host=h renewed_count=1 ${T0_NS + 1n}`], RECEIVED_MS + 2)]);
  restarted.store.close();

  const afterCrash = open();
  t.teardown(() => afterCrash.store.close());
  t.equal(afterCrash.renewals.recover(), 1, "the client's batch a crash left is counted");
});
