// The forwarding keys of [[targets]]: parsed, defaulted, and refused with a message naming the key.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { ConfigError, loadConfig } from '../../src/config/load.js';

function load(t: Test, toml: string) {
  const dir = t.testdir({});
  const file = join(dir, 'certrelay.toml');
  writeFileSync(file, toml);
  return loadConfig({ file, env: {} });
}

function problems(t: Test, toml: string): string[] {
  try {
    load(t, toml);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems.map((p) => p.message.replace(/^config: [^:]+: /, ''));
    throw err;
  }
  return [];
}

const V1 = '[[targets]]\nname = "a"\nkind = "influxdb-v1"\nurl = "http://influx:8086"\n';
const V2 = '[[targets]]\nname = "b"\nkind = "influxdb-v2"\nurl = "http://influx2:8086"\norg = "ops"\ntoken = "t"\n';

t.test('every forwarding key is read, with units', async (t) => {
  const config = load(
    t,
    `${V1}batch_max_points = 1000
batch_max_bytes = "512KiB"
timeout_ms = 2500
retry_initial_ms = 100
retry_max_ms = 60_000
create_database = true
health_max_lag_seconds = 0
mapping = ["certbot=certs", "telegraf/autogen=metrics/one_week"]
`,
  );
  t.match(config.targets[0], {
    batchMaxPoints: 1000,
    batchMaxBytes: 512 * 1024,
    timeoutMs: 2500,
    retryInitialMs: 100,
    retryMaxMs: 60_000,
    createDatabase: true,
    healthMaxLagSeconds: 0,
    mapping: [
      { db: 'certbot', to: 'certs' },
      { db: 'telegraf', rp: 'autogen', to: 'metrics/one_week' },
    ],
  });
  t.notOk('rp' in config.targets[0].mapping[0], '"db=to" has no rp: it covers every rp');
});

t.test('bad forwarding values are named', async (t) => {
  const rows: Array<[string, RegExp]> = [
    [`${V2}create_database = true\n`, /targets\[0\]\.create_database \(target "b"\): only for influxdb-v1 targets/],
    [`${V1}create_database = "yes"\n`, /targets\[0\]\.create_database \(target "a"\): expected true or false, got "yes"/],
    [`${V1}retry_initial_ms = 5000\nretry_max_ms = 1000\n`, /targets\[0\]\.retry_max_ms \(target "a"\): 1000 is smaller than retry_initial_ms \(5000\)/],
    [`${V1}mapping = ["nodest="]\n`, /targets\[0\]\.mapping\[0\] \(target "a"\): expected "db=to" or "db\/rp=to"/],
    [`${V1}mapping = ["/rp=x"]\n`, /targets\[0\]\.mapping\[0\]/],
    [`${V1}mapping = ["certs=/x"]\n`, /targets\[0\]\.mapping\[0\] \(target "a"\): "certs=\/x" names no database/],
    [`${V1}mapping = ["a=x", "a=y"]\n`, /targets\[0\]\.mapping\[1\] \(target "a"\): "a=y" routes the same source as an earlier entry/],
    [`${V1}batch_max_points = 0\n`, /targets\[0\]\.batch_max_points \(target "a"\): expected an integer number from 1 to 1000000, got 0/],
    [`${V1}batch_max_bytes = "1GiB"\n`, /targets\[0\]\.batch_max_bytes/],
    [`${V1}timeout_ms = -1\n`, /targets\[0\]\.timeout_ms/],
  ];
  for (const [toml, expected] of rows) t.match(problems(t, toml), [expected], toml);
});
