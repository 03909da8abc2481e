// Smoke test of the real-server harness: each server starts, takes one point
// and gives it back exactly, and leaves nothing behind when stopped.
import { existsSync } from 'node:fs';
import t from 'tap';
import { freePortBelow32768 } from '../support/free-port.js';
import { parseJsonLossless, startInfluxd } from '../support/influxd.js';
import { startVictoriaMetrics } from '../support/victoria-metrics.js';

const LINE = 'certbot_renewal,domain=all,host=optimus renewed_count=2 1656169934438253518';

function pidRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

t.test('free ports are picked below the ephemeral range', async (t) => {
  for (let i = 0; i < 20; i++) {
    const port = await freePortBelow32768();
    t.ok(port >= 20000 && port <= 32000, `port ${port}`);
  }
});

t.test('lossless JSON keeps int64 nanoseconds exact', async (t) => {
  t.same(parseJsonLossless('{"t":[1656169934438253518,-9223372036854775806,1.5,2,"x",true,null]}'), {
    t: [1656169934438253518n, -9223372036854775806n, 1.5, 2, 'x', true, null],
  });
});

t.test('influxd stores a written point and gives it back to the nanosecond', async (t) => {
  const influxd = await startInfluxd();
  t.teardown(() => influxd.stop());
  t.match(influxd.url, /^http:\/\/127\.0\.0\.1:\d+$/);
  t.ok(Number(new URL(influxd.url).port) < 32768, 'port below the ephemeral range');

  await influxd.createDatabase('smoke');
  const res = await fetch(`${influxd.url}/write?db=smoke&precision=ns`, { method: 'POST', body: LINE });
  t.equal(res.status, 204, await res.text());

  const answer = await influxd.query('SELECT * FROM certbot_renewal GROUP BY *', 'smoke');
  t.same(answer.results[0].series, [
    {
      name: 'certbot_renewal',
      tags: { domain: 'all', host: 'optimus' },
      columns: ['time', 'renewed_count'],
      values: [[1656169934438253518n, 2]],
    },
  ]);

  const pid = influxd.pid;
  await influxd.stop();
  await influxd.stop(); // idempotent
  t.notOk(influxd.alive(), 'stopped');
  t.notOk(pidRunning(pid), 'process gone');
  await t.rejects(fetch(`${influxd.url}/ping`), 'no longer listening');
});

t.test('influxd temp dir is removed on stop; a given dir is kept', async (t) => {
  const influxd = await startInfluxd();
  t.ok(existsSync(`${influxd.dir}/influxd.conf`), 'config written');
  await influxd.stop();
  t.notOk(existsSync(influxd.dir), 'temp dir removed');

  const dir = t.testdir({});
  const kept = await startInfluxd({ dir });
  await kept.stop();
  t.ok(existsSync(`${dir}/influxd.conf`), 'caller-owned dir kept');
  t.ok(existsSync(`${dir}/meta`), 'meta dir created inside it');
});

t.test('victoria-metrics accepts an /api/v2/write line and exports it', async (t) => {
  const vm = await startVictoriaMetrics();
  t.teardown(() => vm.stop());
  t.ok(Number(new URL(vm.url).port) < 32768, 'port below the ephemeral range');

  const res = await fetch(`${vm.url}/api/v2/write?org=o&bucket=smoke&precision=ns`, { method: 'POST', body: LINE });
  t.equal(res.status, 204, await res.text());

  t.same(await vm.exportSeries(), [
    {
      metric: { __name__: 'certbot_renewal_renewed_count', domain: 'all', host: 'optimus' },
      values: [2],
      timestamps: [1656169934438], // VictoriaMetrics keeps milliseconds
    },
  ]);

  const pid = vm.pid;
  await vm.stop();
  await vm.stop();
  t.notOk(pidRunning(pid), 'process gone');
  t.notOk(existsSync(vm.dir), 'temp dir removed');
});
