// The relay's promise under the harshest stop there is: a 204 means the points
// are committed, so SIGKILL at any moment, however many requests are in
// flight, loses nothing that was acknowledged. The relay runs as a real child
// process on one store, killed and restarted again and again under load.
// CRASH_TEST_SEED=<n> replays a run's points and kill delays.
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import t from 'tap';
import { accountForWrites, describeWrites, renewalStateGaps } from '../fixtures/stored-writes.js';
import { runWriters, seededRandom, WriteSource, type SentWrite } from '../fixtures/write-load.js';
import { startRelay } from '../support/relay-process.js';

const CYCLES = 25;
const CLIENTS = 16;
const KILL_AFTER_MS = { min: 50, max: 400 };
// Connection errors a client sees when the server dies under it; anything else is a finding.
const DEATH_ERRORS = new Set(['ECONNRESET', 'EPIPE', 'ECONNREFUSED']);

// What the relay logs at start-up when it read renewals a crash left unapplied back from the log (src/app.ts).
const RECOVERY_LOG = 'renewal state: read back from the log the batches it had not taken in';

const seed = Number(process.env.CRASH_TEST_SEED ?? Math.floor(Math.random() * 2 ** 32));

t.test('every point answered 204 is in the store after SIGKILL at random moments under concurrent writes', async (t) => {
  t.comment(`seed ${seed} (CRASH_TEST_SEED=${seed} replays the points and kill delays)`);
  const started = performance.now();
  const storeDir = join(t.testdir(), 'store');
  const delays = seededRandom(seed);
  const source = new WriteSource(seededRandom(seed + 1));
  const record: SentWrite[] = [];
  const exits: string[] = [];
  let recoveries = 0;

  for (let cycle = 1; cycle <= CYCLES; cycle++) {
    const relay = await startRelay(t, { storeDir });
    let killed = false;
    const load = runWriters({ url: relay.url, clients: CLIENTS, source, record, shouldStop: () => killed });
    await sleep(KILL_AFTER_MS.min + Math.floor(delays() * (KILL_AFTER_MS.max - KILL_AFTER_MS.min + 1)));
    killed = true; // no new requests; those in flight end in a 204 or a connection error
    const exit = await relay.kill();
    if (relay.stdout().includes(RECOVERY_LOG)) recoveries++;
    if (exit.signal !== 'SIGKILL') exits.push(`cycle ${cycle}: exit code ${exit.code} signal ${exit.signal}\n${relay.stderr()}`);
    await load;
  }
  t.same(exits, [], `the relay ran until killed in each of ${CYCLES} cycles`);

  const account = accountForWrites(storeDir, record);
  const answered = record.filter((w) => w.status !== undefined);
  const otherStatuses = answered.filter((w) => w.status !== 204);
  const oddErrors = record.filter((w) => w.error !== undefined && !DEATH_ERRORS.has(w.error));
  const seconds = ((performance.now() - started) / 1000).toFixed(1);

  t.comment(`cycles: ${CYCLES} (SIGKILL ${KILL_AFTER_MS.min}-${KILL_AFTER_MS.max} ms into a load of ${CLIENTS} keep-alive clients), ${seconds} s`);
  t.comment(`requests sent: ${record.length}; acknowledged (204): ${account.ackedRequests}; no answer (connection error): ${account.unknownRequests}, of which stored anyway: ${account.unknownStored}`);
  t.comment(`acknowledged points: ${account.ackedPoints}; of those found in the store: ${account.ackedPointsFound}`);
  t.comment(`store: ${account.storedBatches} batches, ${account.storedPoints} points; integrity_check: ${account.integrity}`);

  t.ok(account.ackedRequests > CYCLES, `writes were acknowledged (${account.ackedRequests} requests)`);
  t.equal(account.ackedPointsFound, account.ackedPoints, `all ${account.ackedPoints} acknowledged points are in the store`);
  t.same(account.missing.map((w) => w.id), [], `no acknowledged request is missing\n${describeWrites(account.missing)}`);
  t.same(account.malformed, [], 'each stored batch is exactly one request: its lines byte for byte, its db/rp and counts');
  t.same(account.duplicated.map((w) => w.id), [], 'no request is stored twice');
  t.same(account.outOfOrder, [], "each client's acknowledged requests are stored in the order it sent them");
  t.equal(account.integrity, 'ok', 'the SQLite file passes integrity_check');
  // The state trails the log by up to ~200 ms, so the file may lag right after a SIGKILL; one more start
  // applies the rest before serving (and commits it durably: it is killed too, not stopped).
  const lagging = renewalStateGaps(storeDir, record).length;
  const last = await startRelay(t, { storeDir });
  if (last.stdout().includes(RECOVERY_LOG)) recoveries++;
  await last.kill();
  t.comment(`renewal state: ${lagging} acknowledged certbot_renewal points not yet in the file after the last SIGKILL; ${recoveries} of ${CYCLES} restarts applied renewals from the log`);
  t.same(renewalStateGaps(storeDir, record), [], 'after a restart, the renewal state reflects every acknowledged certbot_renewal point');
  t.same(
    otherStatuses.map((w) => `${w.status} ${w.body ?? ''}`),
    [],
    `every answered request got 204 (${answered.length} answered)`,
  );
  t.same(oddErrors.map((w) => w.error), [], 'requests without an answer failed only with connection errors (no timeouts)');
});
