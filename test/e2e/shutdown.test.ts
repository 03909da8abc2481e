// SIGTERM is the ordinary stop (systemd, docker, Kubernetes): intake closes
// with 503 + Retry-After, commits under way finish, and the process exits 0
// within server.shutdown_grace_ms, with every acknowledged point stored and
// nothing refused stored. A configuration the relay cannot use stops it
// before it listens, with exit code 78 and the key named on stderr.
import { Agent, request as httpRequest } from 'node:http';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import t from 'tap';
import { accountForWrites, describeWrites } from '../fixtures/stored-writes.js';
import { runWriters, seededRandom, WriteSource, type SentWrite } from '../fixtures/write-load.js';
import { Store } from '../../src/log/store.js';
import { startFakeTarget, until } from '../support/fake-target.js';
import { freePortBelow32768 } from '../support/free-port.js';
import { runRelayToExit, startRelay, type RelayProcess } from '../support/relay-process.js';

const GRACE_MS = 5_000;
const CLIENTS = 16;
const EX_CONFIG = 78;

const seed = Number(process.env.SHUTDOWN_TEST_SEED ?? Math.floor(Math.random() * 2 ** 32));

interface Answer {
  readonly status?: number;
  readonly headers: Record<string, unknown>;
  readonly body: string;
  /** The connection error's code when no answer came. */
  readonly error?: string;
}

/** A write sent in two parts over a keep-alive connection: the first now, the rest when asked. */
function splitWrite(relay: RelayProcess, agent: Agent, body: string, splitAt: number): { answer: Promise<Answer>; finish(): void } {
  let resolveAnswer: (answer: Answer) => void;
  const answer = new Promise<Answer>((resolve) => {
    resolveAnswer = resolve;
  });
  const req = httpRequest(`${relay.url}/write?db=telegraf`, {
    method: 'POST',
    agent,
    headers: { 'Content-Type': 'text/plain', 'Content-Length': Buffer.byteLength(body) },
  });
  req.on('response', (res) => {
    const chunks: Buffer[] = [];
    res.on('data', (chunk: Buffer) => chunks.push(chunk));
    res.on('end', () => resolveAnswer({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
  });
  req.on('error', (err: NodeJS.ErrnoException) => resolveAnswer({ headers: {}, body: '', error: err.code ?? err.message }));
  req.flushHeaders();
  req.write(body.slice(0, splitAt));
  return { answer, finish: () => req.end(body.slice(splitAt)) };
}

/** Gives the relay time to read a request head just sent, and checks it is still serving. */
async function afterHeadRead(relay: RelayProcess): Promise<void> {
  await sleep(100);
  await fetch(`${relay.url}/ping`, { headers: { Connection: 'close' } }).then((res) => res.arrayBuffer());
}

const LINE = 'certbot_renewal,domain=slow.example.com,host=h1 renewed_count=1 1700000000000000000';
// The relay gives up on a stop after the grace period plus this (src/main.ts) and exits 1.
const FORCED_EXIT_AFTER_GRACE_MS = 5_000;

t.test('SIGTERM under write load: every 204 is stored, later writes get 503 + Retry-After, exit 0 within the grace period, and a restart resumes', async (t) => {
  t.comment(`seed ${seed} (SHUTDOWN_TEST_SEED=${seed} replays the points)`);
  const storeDir = join(t.testdir(), 'store');
  const env = { CERTRELAY_SHUTDOWN_GRACE_MS: String(GRACE_MS) };
  const source = new WriteSource(seededRandom(seed));
  const record: SentWrite[] = [];

  const relay = await startRelay(t, { storeDir, env });
  let exited = false;
  void relay.exited.then(() => {
    exited = true;
  });
  // Each client keeps writing through the shutdown, as Telegraf would, until the listener is gone.
  const load = runWriters({
    url: relay.url,
    clients: CLIENTS,
    source,
    record,
    shouldStop: (previous) => exited || previous?.error === 'ECONNREFUSED',
  });
  await sleep(300);
  const termAt = performance.now();
  relay.signal('SIGTERM');
  const exit = await relay.exited;
  const stopMs = performance.now() - termAt;
  await load;

  const before = record.filter((w) => (w.answeredAtMs ?? Infinity) < termAt);
  const during = record.filter((w) => !before.includes(w));
  const count = (writes: SentWrite[], pick: (w: SentWrite) => string) =>
    writes.reduce<Record<string, number>>((acc, w) => ({ ...acc, [pick(w)]: (acc[pick(w)] ?? 0) + 1 }), {});
  const outcome = (w: SentWrite) => (w.status !== undefined ? String(w.status) : (w.error ?? 'none'));
  t.comment(`stopped ${stopMs.toFixed(0)} ms after SIGTERM (grace ${GRACE_MS} ms): exit code ${exit.code}, signal ${exit.signal}`);
  t.comment(`answered before SIGTERM: ${JSON.stringify(count(before, outcome))}; during shutdown: ${JSON.stringify(count(during, outcome))}`);

  t.equal(exit.code, 0, 'exit code 0');
  t.equal(exit.signal, null, 'the relay exited by itself');
  t.ok(stopMs < GRACE_MS, `it exited within the grace period (${stopMs.toFixed(0)} ms < ${GRACE_MS} ms)`);
  t.same(before.filter((w) => w.status !== 204).map(outcome), [], 'before SIGTERM every write got 204');
  t.same(
    during.filter((w) => w.status !== undefined && w.status !== 204 && w.status !== 503).map(outcome),
    [],
    'during shutdown a write is answered 204 (committed) or 503, nothing else',
  );
  const unavailable = during.filter((w) => w.status === 503);
  t.same(
    unavailable.filter((w) => !/^[1-9]\d*$/.test(w.retryAfter ?? '') || !/shutting down/.test(w.body ?? '')).map((w) => `${w.retryAfter} ${w.body}`),
    [],
    `every 503 (${unavailable.length}) says the relay is shutting down and carries Retry-After in seconds`,
  );
  t.same(
    during.filter((w) => w.error !== undefined && w.error !== 'ECONNREFUSED' && w.error !== 'ECONNRESET').map(outcome),
    [],
    'a write that got no answer met a refused (or reset) connection, never a timeout',
  );
  t.notMatch(relay.stdout(), /"level":(50|60)/, 'no error was logged while stopping');

  const account = accountForWrites(storeDir, record);
  t.comment(`acknowledged: ${account.ackedRequests} requests, ${account.ackedPoints} points, ${account.ackedPointsFound} found; refused and stored: ${account.refusedButStored.length}; no answer: ${account.unknownRequests}, stored: ${account.unknownStored}`);
  t.equal(account.ackedPointsFound, account.ackedPoints, `all ${account.ackedPoints} acknowledged points are stored`);
  t.same(account.missing.map((w) => w.id), [], `no acknowledged request is missing\n${describeWrites(account.missing)}`);
  t.same(account.refusedButStored.map((w) => w.id), [], `no request answered 503 was stored\n${describeWrites(account.refusedButStored)}`);
  t.same(account.malformed, [], 'each stored batch is exactly one request');
  t.equal(account.integrity, 'ok', 'the SQLite file passes integrity_check');

  // A restart on the same store takes writes again, and the old data is still there.
  const restarted = await startRelay(t, { storeDir, env });
  const after: SentWrite[] = [];
  await runWriters({ url: restarted.url, clients: 2, source, record: after, shouldStop: (previous) => previous !== undefined });
  t.same(after.map(outcome), ['204', '204'], 'the restarted relay answers writes with 204');
  t.same(await restarted.stop(), { code: 0, signal: null }, 'and stops cleanly again');
  const resumed = accountForWrites(storeDir, [...record, ...after]);
  t.equal(resumed.ackedPointsFound, resumed.ackedPoints, `after the restart all ${resumed.ackedPoints} acknowledged points are stored`);
  t.equal(resumed.storedBatches, account.storedBatches + 2, 'the old batches are kept and the new ones appended');
});

t.test('a write still uploading at SIGTERM is answered 503 + Retry-After, is not stored, and the relay still exits 0 within the grace period', async (t) => {
  const grace = 3_000;
  const storeDir = join(t.testdir(), 'store');
  const relay = await startRelay(t, { storeDir, env: { CERTRELAY_SHUTDOWN_GRACE_MS: String(grace) } });
  const agent = new Agent({ keepAlive: true });
  t.teardown(() => agent.destroy());

  const upload = splitWrite(relay, agent, `${LINE}\n`, 10);
  await afterHeadRead(relay);
  const termAt = performance.now();
  relay.signal('SIGTERM');
  // Logged in the same turn that closes intake (src/main.ts), so the rest of the body arrives after it.
  await until(t, 'the relay logs that it is stopping', () => /stopping: intake closed/.test(relay.stdout()));
  upload.finish();
  const answer = await upload.answer;
  t.equal(answer.status, 503, 'the write gets 503');
  t.match(answer.headers['retry-after'], /^[1-9]\d*$/, 'with Retry-After in seconds');
  t.match(answer.body, /shutting down/);
  // A client that was told to come back must not be left holding a keep-alive connection the relay will not serve.
  t.equal(answer.headers.connection, 'close', 'the answer closes the connection (Connection: close)');

  const exit = await relay.exited;
  const stopMs = performance.now() - termAt;
  t.comment(`exit code ${exit.code} ${stopMs.toFixed(0)} ms after SIGTERM (grace ${grace} ms)`);
  t.ok(stopMs < grace && exit.code === 0, `the relay exits 0 within the grace period (exit ${exit.code} after ${stopMs.toFixed(0)} ms)`);
  t.equal(accountForWrites(storeDir, []).storedBatches, 0, 'nothing was stored');
});

t.test('a client that never finishes its body does not keep the relay running past the grace period', async (t) => {
  const grace = 1_000;
  const storeDir = join(t.testdir(), 'store');
  const relay = await startRelay(t, { storeDir, env: { CERTRELAY_SHUTDOWN_GRACE_MS: String(grace) } });
  const agent = new Agent({ keepAlive: true });
  t.teardown(() => agent.destroy());

  const stalled = splitWrite(relay, agent, `${LINE}\n`, 10);
  await afterHeadRead(relay);
  const termAt = performance.now();
  relay.signal('SIGTERM');
  const exit = await relay.exited;
  const stopMs = performance.now() - termAt;
  t.comment(`exit code ${exit.code} ${stopMs.toFixed(0)} ms after SIGTERM (grace ${grace} ms)`);
  // Exit code 0 also shows it was not the forced exit, which comes FORCED_EXIT_AFTER_GRACE_MS after the grace period with code 1.
  t.ok(stopMs >= grace && stopMs < grace + FORCED_EXIT_AFTER_GRACE_MS && exit.code === 0, `after the grace period the relay drops the connection and exits 0 (exit ${exit.code} after ${stopMs.toFixed(0)} ms)`);
  t.ok((await stalled.answer).error !== undefined, 'the stalled client sees its connection closed, not a 204');
  t.equal(accountForWrites(storeDir, []).storedBatches, 0, 'nothing was stored');
});

t.test('idle keep-alive connections do not delay the stop', async (t) => {
  const storeDir = join(t.testdir(), 'store');
  const relay = await startRelay(t, { storeDir, env: { CERTRELAY_SHUTDOWN_GRACE_MS: String(GRACE_MS) } });
  const agent = new Agent({ keepAlive: true });
  t.teardown(() => agent.destroy());
  const record: SentWrite[] = [];
  // Four connections, each used once and left open.
  await runWriters({ url: relay.url, clients: 4, source: new WriteSource(seededRandom(seed)), record, shouldStop: (previous) => previous !== undefined });
  t.same(record.map((w) => w.status), [204, 204, 204, 204]);
  const termAt = performance.now();
  relay.signal('SIGTERM');
  const exit = await relay.exited;
  const stopMs = performance.now() - termAt;
  t.same(exit, { code: 0, signal: null }, 'exit code 0');
  t.ok(stopMs < GRACE_MS / 2, `stopped ${stopMs.toFixed(0)} ms after SIGTERM, without waiting for the ${GRACE_MS} ms grace period`);
  t.equal(accountForWrites(storeDir, record).ackedPointsFound, record.reduce((n, w) => n + w.lines.length, 0), 'the writes are stored');
});

t.test('while the forwarders drain after SIGTERM the relay still answers: writes get 503 + Retry-After, /ready 503; then it exits 0', async (t) => {
  const grace = 3_000;
  // A target that accepts the connection and never answers: the forwarder drains for the whole grace period.
  const target = await startFakeTarget(t, () => 'hang');
  const dir = t.testdir({
    'certrelay.toml': `[[targets]]\nname = "stuck"\nkind = "influxdb-v1"\nurl = "${target.url}"\ntimeout_ms = 60000\n`,
  });
  const storeDir = join(dir, 'store');
  const relay = await startRelay(t, { storeDir, args: ['--config', join(dir, 'certrelay.toml')], env: { CERTRELAY_SHUTDOWN_GRACE_MS: String(grace) } });
  const written = await fetch(`${relay.url}/write?db=certbot`, { method: 'POST', body: LINE });
  t.equal(written.status, 204);
  await until(t, 'the forwarder sends the point', () => target.writes().length === 1);

  const termAt = performance.now();
  relay.signal('SIGTERM');
  await until(t, 'the relay logs that it is stopping', () => /stopping: intake closed/.test(relay.stdout()));
  const during = await fetch(`${relay.url}/write?db=certbot`, { method: 'POST', body: LINE, headers: { Connection: 'close' } });
  t.equal(during.status, 503, 'a new connection during the drain gets an answer: 503');
  t.match(during.headers.get('retry-after'), /^[1-9]\d*$/, 'with Retry-After in seconds');
  t.match(await during.text(), /shutting down/);
  const ready = await fetch(`${relay.url}/ready`, { headers: { Connection: 'close' } });
  t.equal(ready.status, 503, '/ready says not ready');
  await ready.arrayBuffer();

  const exit = await relay.exited;
  const stopMs = performance.now() - termAt;
  t.comment(`exit code ${exit.code} ${stopMs.toFixed(0)} ms after SIGTERM (grace ${grace} ms)`);
  t.same(exit, { code: 0, signal: null }, 'exit code 0');
  t.ok(stopMs < grace + FORCED_EXIT_AFTER_GRACE_MS, `within the grace period, not the forced exit (${stopMs.toFixed(0)} ms)`);
  const store = Store.open({ dir: storeDir, maxBytes: 1 << 30 });
  t.teardown(() => store.close());
  t.same([store.countPoints(), store.cursor('stuck')], [1, 0], 'the acknowledged point stays for the next start; the refused one was not stored');
});

t.test('the stop does not say every target has everything while lines wait as held dead letters for a missing database', async (t) => {
  const target = await startFakeTarget(t, (req) =>
    req.query.get('db') === 'missing' ? { status: 404, body: '{"error":"database not found: \\"missing\\""}' } : { status: 204 },
  );
  const dir = t.testdir({ 'certrelay.toml': `[[targets]]\nname = "influx"\nkind = "influxdb-v1"\nurl = "${target.url}"\n` });
  const relay = await startRelay(t, { storeDir: join(dir, 'store'), args: ['--config', join(dir, 'certrelay.toml')] });
  t.equal((await fetch(`${relay.url}/write?db=missing`, { method: 'POST', body: LINE })).status, 204);
  await until(t, 'the line is held', () => /its lines are kept as held dead letters/.test(relay.stdout()));

  t.same(await relay.stop(), { code: 0, signal: null });
  t.notMatch(relay.stdout(), /every target has received everything/);
  t.match(relay.stdout(), /"targets":\[\{"target":"influx","points":0,"batches":0,"heldPoints":1\}\].*"msg":"stopping: points not yet delivered stay in the store/);
});

t.test('a configuration the relay cannot use stops it before it listens: exit 78 and the key named on stderr', async (t) => {
  const dir = t.testdir({
    'syntax.toml': '[server\nlisten = "127.0.0.1:0"\n',
    'bad-value.toml': '[server]\nlisten = "127.0.0.1:0"\nmax_body_bytes = "lots"\n',
  });
  const storeDir = join(dir, 'store');
  const cases: Array<{ name: string; env: Record<string, string>; args?: string[]; stderr: RegExp[] }> = [
    {
      name: 'CERTRELAY_LISTEN=nonsense',
      env: { CERTRELAY_LISTEN: 'nonsense', CERTRELAY_STORE_PATH: storeDir },
      stderr: [/CERTRELAY_LISTEN/, /server\.listen/, /host:port/, /"nonsense"/],
    },
    {
      name: 'a TOML syntax error in --config',
      env: { CERTRELAY_STORE_PATH: storeDir },
      args: ['--config', join(dir, 'syntax.toml')],
      stderr: [/syntax\.toml:\d+:\d+/, /TOML/i],
    },
    {
      name: 'a bad value in the --config file',
      env: { CERTRELAY_STORE_PATH: storeDir },
      args: ['--config', join(dir, 'bad-value.toml')],
      stderr: [/bad-value\.toml/, /server\.max_body_bytes/, /"lots"/],
    },
    {
      name: 'an unknown CERTRELAY_ variable',
      env: { CERTRELAY_LISTN: '127.0.0.1:0', CERTRELAY_STORE_PATH: storeDir },
      stderr: [/CERTRELAY_LISTN/, /unknown/, /CERTRELAY_LISTEN/],
    },
  ];
  for (const c of cases) {
    const run = await runRelayToExit({ env: c.env, args: c.args });
    t.equal(run.code, EX_CONFIG, `${c.name}: exit code ${EX_CONFIG} (${run.durationMs.toFixed(0)} ms)`);
    for (const pattern of c.stderr) t.match(run.stderr, pattern, `${c.name}: stderr matches ${pattern}`);
    t.notMatch(run.stdout, /certrelay listening/, `${c.name}: it never listened`);
  }
});

t.test('a port already in use is a one-line error and exit code 1, and the store is left closed', async (t) => {
  const port = await freePortBelow32768();
  const occupier = createServer();
  await new Promise<void>((resolve) => occupier.listen({ host: '127.0.0.1', port }, resolve));
  t.teardown(() => new Promise<void>((resolve) => occupier.close(() => resolve())));
  const storeDir = join(t.testdir(), 'store');
  const run = await runRelayToExit({ env: { CERTRELAY_LISTEN: `127.0.0.1:${port}`, CERTRELAY_STORE_PATH: storeDir } });
  t.equal(run.code, 1);
  t.equal(run.stderr, `certrelay: cannot listen on 127.0.0.1:${port}: the address is already in use (another certrelay, or another server on that port) (server.listen, or CERTRELAY_LISTEN)\n`);
  // The lock was released: a relay on a free port starts on the same store.
  const relay = await startRelay(t, { storeDir });
  t.same(await relay.stop(), { code: 0, signal: null });
});
