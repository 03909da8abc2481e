// The whole loop with a real relay process: a target refuses one line of a
// coalesced batch, the relay delivers the rest and dead-letters that line with
// the target's reason; `certrelay dead-letters replay` while the target still
// refuses it brings it back as a new dead letter, and after the operator fixes
// the target it is delivered. The CLI runs next to the relay on the same store.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import type { DeadLetterJson } from '../../src/cli/dead-letters.js';
import type { StatusJson } from '../../src/cli/status.js';
import { startFakeTarget, until, type Recorded, type Reply } from '../support/fake-target.js';
import { runRelayToExit, startRelay } from '../support/relay-process.js';

const GOOD = ['cpu,host=web01 usage=1i 1700000000000000001', 'cpu,host=web02 usage=2i 1700000000000000002'];
// The relay itself accepts this line; only the target refuses it (say, an older field of another type there).
const BAD = 'mem,host=web03 used="high" 1700000000000000003';
const CONFLICT = 'partial write: field type conflict: input field "used" on measurement "mem" is type string, already exists as type integer dropped=1';

t.test('a refused line is dead-lettered by the relay, and replay delivers it once the target is fixed', async (t) => {
  let fixed = false;
  // Like influxd: a request with the bad line is refused as a whole with 400.
  const refuseBad = (req: Recorded): Reply =>
    !fixed && req.lines.includes(BAD) ? { status: 400, body: JSON.stringify({ error: CONFLICT }) } : { status: 204 };
  const fake = await startFakeTarget(t, refuseBad);
  const dir = t.testdir({});
  const storeDir = join(dir, 'store');
  const config = join(dir, 'certrelay.toml');
  writeFileSync(
    config,
    `[[targets]]\nname = "influx-a"\nkind = "influxdb-v1"\nurl = "${fake.url}"\nretry_initial_ms = 20\nretry_max_ms = 200\n`,
  );
  const relay = await startRelay(t, { storeDir, args: ['--config', config], env: { CERTRELAY_LOG_LEVEL: 'info' } });
  const cli = (...args: string[]) => runRelayToExit({ env: { CERTRELAY_STORE_PATH: storeDir }, args: [...args, '--config', config] });

  const res = await fetch(`${relay.url}/write?db=telegraf`, { method: 'POST', body: [GOOD[0], BAD, GOOD[1]].join('\n') });
  t.equal(res.status, 204);
  await until(t, 'the good lines arrive', () => GOOD.every((line) => fake.accepted.includes(line)));

  let deadLetters: DeadLetterJson[] = [];
  for (let i = 0; i < 50 && deadLetters.length === 0; i++) {
    const list = await cli('dead-letters', 'list', '--json');
    t.equal(list.code, 0, list.stderr);
    deadLetters = (JSON.parse(list.stdout) as { deadLetters: DeadLetterJson[] }).deadLetters;
    if (deadLetters.length === 0) await new Promise((r) => setTimeout(r, 100));
  }
  t.match(deadLetters, [{ target: 'influx-a', status: 400, error: CONFLICT, db: 'telegraf', rp: '', points: 1, lines: BAD }], 'only the bad line, with the target\'s words');
  t.notOk(fake.accepted.includes(BAD));

  const status = JSON.parse((await cli('status', '--json')).stdout) as StatusJson;
  t.match(status.targets, [{ name: 'influx-a', state: 'ok', backlogPoints: 0, deadLetters: 1, lastStatus: 400, lastOutcome: 'rejected', lastError: CONFLICT }]);

  // Replayed before the fix: the relay sends it, the target refuses it again.
  const early = await cli('dead-letters', 'replay', '--timeout', '20s');
  t.equal(early.code, 1, 'refused again is a failure');
  const back = /^re-queued 1 dead letter \(1 point\): influx-a 1\nsent it again in \d+\.\ds; 1 came back as new dead letter \(id (\d+)\)\n$/.exec(early.stdout);
  t.ok(back, early.stdout);
  const again = Number(back?.[1]);
  t.ok(again > deadLetters[0].id, 'a new dead letter');
  t.match(early.stderr, new RegExp(`the target refused lines again \\(HTTP 400: partial write: field type conflict.*back as dead letter ${again}:`));
  const shown = JSON.parse((await cli('dead-letters', 'show', String(again), '--json')).stdout) as DeadLetterJson;
  t.match(shown, { target: 'influx-a', status: 400, error: CONFLICT, lines: BAD });

  fixed = true;
  const replay = await cli('dead-letters', 'replay', '--target', 'influx-a');
  t.equal(replay.code, 0, replay.stderr);
  t.match(replay.stdout, /^re-queued 1 dead letter \(1 point\): influx-a 1\nsent it again in \d+\.\ds; none came back as dead letters\n$/);
  t.ok(fake.accepted.includes(BAD), 'the target has the line now');
  t.equal(fake.accepted.filter((line) => GOOD.includes(line)).length, 2, 'the replay sent only the dead letter, not the good lines again');

  const after = await cli('dead-letters', 'list');
  t.equal(after.stdout, 'no dead letters\n');
  t.ok(relay.alive(), 'the relay ran through it all');
  t.equal((await relay.stop()).code, 0);
});

t.test('replayed lines of a database the relay still holds are reported held again, unsent, not refused by the target', async (t) => {
  // The database is created on the target, but the relay's next check of it is a minute away: the replayed
  // lines are kept aside again without a send. The target never refused them; the replay said it did (HTTP 404).
  let exists = false;
  const fake = await startFakeTarget(t, (req) =>
    req.query.get('db') === 'certs' && !exists ? { status: 404, body: '{"error":"database not found: \\"certs\\""}' } : { status: 204 },
  );
  const dir = t.testdir({});
  const storeDir = join(dir, 'store');
  const config = join(dir, 'certrelay.toml');
  writeFileSync(config, `[[targets]]\nname = "influx-a"\nkind = "influxdb-v1"\nurl = "${fake.url}"\nretry_initial_ms = 20\nretry_max_ms = 60000\n`);
  const relay = await startRelay(t, { storeDir, args: ['--config', config] });
  const cli = (...args: string[]) => runRelayToExit({ env: { CERTRELAY_STORE_PATH: storeDir }, args: [...args, '--config', config] });

  for (const line of GOOD) t.equal((await fetch(`${relay.url}/write?db=certs`, { method: 'POST', body: line })).status, 204);
  for (let i = 0; i < 100 && (JSON.parse((await cli('dead-letters', 'list', '--json')).stdout) as { deadLetters: DeadLetterJson[] }).deadLetters.length < 2; i++) {
    await new Promise((r) => setTimeout(r, 100));
  }
  exists = true;
  const sendsBefore = fake.writes().filter((r) => r.query.get('db') === 'certs' && r.body !== '').length;

  const replay = await cli('dead-letters', 'replay', '--timeout', '20s');
  t.equal(replay.code, 1, 'not delivered yet');
  t.match(replay.stdout, /^re-queued 2 dead letters \(2 points\): influx-a 2\nsent 0 of 2 again in \d+\.\ds; 2 held again, unsent \(id 3-4\)\n$/);
  t.notMatch(replay.stderr, /refused/, 'the target refused nothing');
  t.match(replay.stderr, /the relay still holds "certs" for influx-a .*kept 2 replayed dead letters aside again without sending them \(held dead letters 3-4\)\. It checks the destination every retry_max_ms, 1m/);
  t.equal(fake.writes().filter((r) => r.query.get('db') === 'certs' && r.body !== '').length, sendsBefore, 'the replay sent nothing');
  t.equal((await relay.stop()).code, 0);
});
