import t, { type Test } from 'tap';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError, loadConfig, parseByteSize, parseListen } from '../../src/config/load.js';
import { DEFAULTS } from '../../src/config/defaults.js';

/** Writes the TOML (and any extra files) to a fresh directory; returns the TOML path. */
function tomlFile(t: Test, toml: string, extra: Record<string, string> = {}): string {
  const dir = t.testdir({ 'certrelay.toml': toml, ...extra });
  return join(dir, 'certrelay.toml');
}

function loadError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error('expected a ConfigError, nothing was thrown');
}

t.test('with no file and no variables the embedded defaults apply', async (t) => {
  const config = loadConfig({ env: {} });
  t.same(config, {
    server: { host: '127.0.0.1', port: 8186, maxBodyBytes: 25_000_000, maxInflightBodyBytes: 64 * 1024 ** 2, maxConnections: 10_000, shutdownGraceMs: 10_000, logLevel: 'info' },
    store: { path: './data', maxBytes: 1024 ** 3, minFreeBytes: 100 * 1024 ** 2 },
    auth: { tokens: [], protectReads: false },
    validation: { certbotMeasurement: 'certbot_renewal', maxFutureSeconds: 300 },
    targets: [],
    renewals: { graceDays: 2, defaultIntervalDays: 60, evaluationIntervalSeconds: 900, reminderIntervalHours: 0, maxCertificates: 50_000, expected: [] },
    notify: { retryInitialMs: 5000, retryMaxMs: 600_000, webhooks: [], email: [] },
  });
  t.equal(DEFAULTS.server.maxBodyBytes, config.server.maxBodyBytes, 'DEFAULTS, which the docs are checked against, holds the same value');
  t.notOk('tlsCert' in config.server, 'no TLS unless configured');
});

t.test('variables unrelated to certrelay are ignored', async (t) => {
  t.doesNotThrow(() => loadConfig({ env: { PATH: '/usr/bin', HOME: '/root', CERTRELAYX: '1', LISTEN: 'x' } }));
});

t.test("the certbot hook's CERTRELAY_HOOK_ settings are left to the hook, on a host that runs both", async (t) => {
  const config = loadConfig({ env: { CERTRELAY_HOOK_URL: 'http://127.0.0.1:8186/write?db=certbot', CERTRELAY_HOOK_TOKEN: 'secret' } });
  t.equal(config.server.port, 8186);
  t.throws(() => loadConfig({ env: { CERTRELAY_HOOKS: 'x' } }), /unknown CERTRELAY_ variable/, 'the prefix is exact');
});

t.test('file values replace the defaults', async (t) => {
  const dir = t.testdir({ 'cert.pem': 'CERT', 'key.pem': 'KEY', store: {} });
  const file = join(dir, 'certrelay.toml');
  writeFileSync(
    file,
    `
[server]
listen = "[::1]:9999"
max_body_bytes = "1MiB"
tls_cert = "${join(dir, 'cert.pem')}"
tls_key = "${join(dir, 'key.pem')}"
shutdown_grace_ms = 2_500

[store]
path = "${join(dir, 'store')}"
max_bytes = 2147483648
min_free_bytes = 0

[[auth.tokens]]
token = "t-one"
databases = ["certbot", "telegraf"]

[[auth.tokens]]
token = "t-two"
access = "write"

[validation]
certbot_measurement = "certs"
max_future_seconds = 0

[[targets]]
name = "influx-a"
kind = "influxdb-v1"
url = "http://influx-a:8086"
username = "relay"
password = "secret"

[[targets]]
name = "influx.b_2"
kind = "influxdb-v2"
url = "https://influx-b.example.net/prefix"
token = "v2token"
org = "ops"
databases = ["certbot"]
`,
  );
  const config = loadConfig({ file, env: {} });
  t.same(config.server, {
    host: '::1',
    port: 9999,
    maxBodyBytes: 1024 * 1024,
    maxInflightBodyBytes: 64 * 1024 ** 2,
    maxConnections: 10_000,
    tlsCert: join(dir, 'cert.pem'),
    tlsKey: join(dir, 'key.pem'),
    shutdownGraceMs: 2500,
    logLevel: 'info',
  });
  t.same(config.store, { path: join(dir, 'store'), maxBytes: 2 ** 31, minFreeBytes: 0 });
  t.same(config.auth.tokens, [
    { token: 't-one', databases: ['certbot', 'telegraf'], access: 'read-write' },
    { token: 't-two', databases: [], access: 'write' },
  ]);
  t.same(config.validation, { certbotMeasurement: 'certs', maxFutureSeconds: 0 });
  // Forwarding settings not in the file keep their defaults (test/forward/config.test.ts sets them).
  const forwarding = {
    batchMaxPoints: 5000,
    batchMaxBytes: 1024 * 1024,
    concurrency: 4,
    timeoutMs: 10_000,
    retryInitialMs: 500,
    retryMaxMs: 30_000,
    createDatabase: false,
    healthMaxLagSeconds: 300,
    mapping: [],
  };
  t.same(config.targets, [
    { name: 'influx-a', kind: 'influxdb-v1', url: 'http://influx-a:8086', username: 'relay', password: 'secret', databases: [], ...forwarding },
    { name: 'influx.b_2', kind: 'influxdb-v2', url: 'https://influx-b.example.net/prefix', token: 'v2token', org: 'ops', databases: ['certbot'], ...forwarding },
  ]);
});

t.test('a key missing from the file keeps its default', async (t) => {
  const file = tomlFile(t, '[server]\nlisten = "0.0.0.0:8186"\n');
  const config = loadConfig({ file, env: {} });
  t.equal(config.server.host, '0.0.0.0');
  t.equal(config.server.maxBodyBytes, 25_000_000, "influxd 1.x's max-body-size");
  t.equal(config.store.path, './data');
});

t.test('an environment variable beats the file, which beats the default', async (t) => {
  const file = tomlFile(
    t,
    `
[server]
listen = "127.0.0.1:1111"
max_body_bytes = 1000
shutdown_grace_ms = 1
[store]
path = "/from/file"
max_bytes = 5000
min_free_bytes = "1MiB"
[validation]
certbot_measurement = "from_file"
max_future_seconds = 1
[[auth.tokens]]
token = "file-token"
databases = ["a"]
`,
  );
  const config = loadConfig({
    file,
    env: {
      CERTRELAY_LISTEN: '[::]:0',
      CERTRELAY_MAX_BODY_BYTES: '2KiB',
      CERTRELAY_SHUTDOWN_GRACE_MS: '42',
      CERTRELAY_STORE_PATH: '/from/env',
      CERTRELAY_STORE_MAX_BYTES: '3000000',
      CERTRELAY_STORE_MIN_FREE_BYTES: '2MB',
      CERTRELAY_CERTBOT_MEASUREMENT: 'from_env',
      CERTRELAY_MAX_FUTURE_SECONDS: '60',
      CERTRELAY_AUTH_TOKEN: 'env-token',
      CERTRELAY_LOG_LEVEL: 'warn',
      CERTRELAY_MAX_INFLIGHT_BODY_BYTES: '4096',
      CERTRELAY_MAX_CONNECTIONS: '0',
    },
  });
  t.same(config.server, { host: '::', port: 0, maxBodyBytes: 2048, maxInflightBodyBytes: 4096, maxConnections: 0, shutdownGraceMs: 42, logLevel: 'warn' });
  t.same(config.store, { path: '/from/env', maxBytes: 3_000_000, minFreeBytes: 2_000_000 });
  t.same(config.validation, { certbotMeasurement: 'from_env', maxFutureSeconds: 60 });
  t.same(config.auth.tokens, [
    { token: 'file-token', databases: ['a'], access: 'read-write' },
    { token: 'env-token', databases: [], access: 'read-write' },
  ], 'CERTRELAY_AUTH_TOKEN adds an unscoped token after those of the file');
});

t.test('TLS files from the environment are checked like file values', async (t) => {
  const dir = t.testdir({ 'c.pem': 'C', 'k.pem': 'K' });
  const config = loadConfig({ env: { CERTRELAY_TLS_CERT: join(dir, 'c.pem'), CERTRELAY_TLS_KEY: join(dir, 'k.pem') } });
  t.equal(config.server.tlsCert, join(dir, 'c.pem'));
  t.equal(config.server.tlsKey, join(dir, 'k.pem'));
});

t.test('CERTRELAY_CONFIG names the file when none is passed; an explicit file wins', async (t) => {
  const dir = t.testdir({ 'a.toml': '[server]\nlisten = "127.0.0.1:1"\n', 'b.toml': '[server]\nlisten = "127.0.0.1:2"\n' });
  const a = join(dir, 'a.toml');
  t.equal(loadConfig({ env: { CERTRELAY_CONFIG: a } }).server.port, 1);
  t.equal(loadConfig({ file: join(dir, 'b.toml'), env: { CERTRELAY_CONFIG: a } }).server.port, 2);
});

t.test('the result is deeply frozen', async (t) => {
  const file = tomlFile(t, '[[auth.tokens]]\ntoken = "x"\ndatabases = ["a"]\n[[targets]]\nname = "a"\nkind = "influxdb-v1"\nurl = "http://a"\n');
  const config = loadConfig({ file, env: {} });
  for (const value of [config, config.server, config.store, config.auth, config.auth.tokens, config.auth.tokens[0],
    config.auth.tokens[0].databases, config.validation, config.targets, config.targets[0], config.targets[0].databases]) {
    t.ok(Object.isFrozen(value));
  }
  t.throws(() => {
    (config.server as { port: number }).port = 1;
  }, TypeError);
});

interface BadCase {
  readonly name: string;
  readonly toml?: string;
  readonly env?: Record<string, string>;
  /** Files written next to the TOML; `$DIR` in the TOML is replaced by their directory. */
  readonly files?: Record<string, string>;
  /** ConfigError.key of the first problem. */
  readonly key: string;
  readonly message: RegExp;
}

const BAD: readonly BadCase[] = [
  {
    name: 'a listen address without a port',
    toml: '[server]\nlisten = "abc"',
    key: 'server.listen',
    message: /: server\.listen: expected "host:port" with a port 1-65535 .*got "abc"/,
  },
  { name: 'a port above 65535', toml: '[server]\nlisten = "127.0.0.1:65536"', key: 'server.listen', message: /got "127\.0\.0\.1:65536"/ },
  { name: 'IPv6 without brackets', toml: '[server]\nlisten = "::1:8186"', key: 'server.listen', message: /IPv6 as "\[::1\]:8186"/ },
  { name: 'a bad listen address from the environment', env: { CERTRELAY_LISTEN: 'localhost' }, key: 'CERTRELAY_LISTEN', message: /^config: CERTRELAY_LISTEN \(server\.listen\): expected "host:port"/ },
  { name: 'a negative body size', toml: '[server]\nmax_body_bytes = -1', key: 'server.max_body_bytes', message: /server\.max_body_bytes: expected a size in bytes from 1 .*got -1/ },
  { name: 'a zero body size', toml: '[server]\nmax_body_bytes = 0', key: 'server.max_body_bytes', message: /got 0$/ },
  { name: 'a negative store size', toml: '[store]\nmax_bytes = -5', key: 'store.max_bytes', message: /store\.max_bytes: expected a size/ },
  { name: 'a size with an unknown unit', toml: '[store]\nmax_bytes = "2 gigs"', key: 'store.max_bytes', message: /got "2 gigs"/ },
  { name: 'a fractional number of bytes', toml: '[store]\nmax_bytes = "0.1KiB"', key: 'store.max_bytes', message: /got "0\.1KiB"/ },
  { name: 'a float where bytes are expected', toml: '[server]\nmax_body_bytes = 1e6', key: 'server.max_body_bytes', message: /got 1000000/ },
  { name: 'a negative size from the environment', env: { CERTRELAY_STORE_MAX_BYTES: '-1' }, key: 'CERTRELAY_STORE_MAX_BYTES', message: /CERTRELAY_STORE_MAX_BYTES \(store\.max_bytes\): expected a size/ },
  {
    name: 'a budget for bodies in flight smaller than one body',
    toml: '[server]\nmax_body_bytes = "2MB"\nmax_inflight_body_bytes = "1MB"',
    key: 'server.max_inflight_body_bytes',
    message: /1000000 is smaller than server\.max_body_bytes \(2000000\): a body of the maximum size could never be read/,
  },
  { name: 'a store smaller than one body', toml: '[store]\nmax_bytes = "1MiB"', key: 'store.max_bytes', message: /smaller than server\.max_body_bytes/ },
  { name: 'a negative grace', toml: '[server]\nshutdown_grace_ms = -1', key: 'server.shutdown_grace_ms', message: /expected an integer number of milliseconds from 0 to 2147483647, got -1/ },
  { name: 'a grace setTimeout cannot honour', env: { CERTRELAY_SHUTDOWN_GRACE_MS: '2147483648' }, key: 'CERTRELAY_SHUTDOWN_GRACE_MS', message: /from 0 to 2147483647/ },
  { name: 'an integer written as a string', toml: '[validation]\nmax_future_seconds = "300"', key: 'validation.max_future_seconds', message: /expected an integer number of seconds >= 0, got "300"/ },
  { name: 'an integer variable that is not a number', env: { CERTRELAY_MAX_FUTURE_SECONDS: '5m' }, key: 'CERTRELAY_MAX_FUTURE_SECONDS', message: /got "5m"/ },
  { name: 'an empty measurement', toml: '[validation]\ncertbot_measurement = ""', key: 'validation.certbot_measurement', message: /expected a non-empty string/ },
  {
    name: 'an unknown key, with the known ones nearby',
    toml: '[server]\nlisten_addr = "127.0.0.1:1"',
    key: 'server.listen_addr',
    message: /server\.listen_addr: unknown key; known keys in \[server\]: listen, max_body_bytes, max_inflight_body_bytes, max_connections, tls_cert, tls_key, shutdown_grace_ms/,
  },
  { name: 'a misspelt key, with a suggestion', toml: '[store]\npaht = "/x"', key: 'store.paht', message: /unknown key \(did you mean "store\.path"\?\)/ },
  { name: 'a key outside its table', toml: 'listen = "127.0.0.1:1"', key: 'listen', message: /did you mean "server\.listen"\?.*known keys at the top level: server, store, auth, validation, renewals, notify, targets/ },
  { name: 'an unknown table', toml: '[serve]\nlisten = "127.0.0.1:1"', key: 'serve', message: /did you mean "server"\?/ },
  { name: 'an unknown key in a target', toml: '[[targets]]\nname = "a"\nkind = "influxdb-v1"\nurl = "http://a"\ndb = "x"', key: 'targets[0].db', message: /targets\[0\]\.db \(target "a"\): unknown key; known keys in \[\[targets\]\]: name, kind, url/ },
  { name: 'a table written as an array', toml: '[[server]]\nlisten = "127.0.0.1:1"', key: 'server', message: /expected a table \(\[server\]\), got an array/ },
  { name: 'targets written as a single table', toml: '[targets]\nname = "a"', key: 'targets', message: /expected an array of tables \(\[\[targets\]\]\)/ },
  { name: 'an unknown CERTRELAY_ variable', env: { CERTRELAY_LISTN: '127.0.0.1:1' }, key: 'CERTRELAY_LISTN', message: /unknown CERTRELAY_ variable \(did you mean CERTRELAY_LISTEN\?\)/ },
  { name: 'an empty variable', env: { CERTRELAY_STORE_PATH: '' }, key: 'CERTRELAY_STORE_PATH', message: /CERTRELAY_STORE_PATH \(store\.path\): is empty/ },
  { name: 'an empty token variable (auth must not silently switch off)', env: { CERTRELAY_AUTH_TOKEN: '' }, key: 'CERTRELAY_AUTH_TOKEN', message: /is empty/ },
  { name: 'a token without a value', toml: '[[auth.tokens]]\ndatabases = ["a"]', key: 'auth.tokens[0].token', message: /auth\.tokens\[0\]\.token: required/ },
  { name: 'a token with whitespace', toml: '[[auth.tokens]]\ntoken = "abc def"', key: 'auth.tokens[0].token', message: /printable ASCII characters without spaces \(it is sent in an HTTP header\)$/ },
  { name: 'a placeholder token ("…" is no ASCII)', toml: '[[auth.tokens]]\ntoken = "…"', key: 'auth.tokens[0].token', message: /printable ASCII characters without spaces/ },
  {
    name: 'a webhook bearer token that could never be sent',
    toml: '[[notify.webhooks]]\nname = "w"\nurl = "https://hooks.example.net/x"\nbearer_token = "tök"',
    key: 'notify.webhooks[0].bearer_token',
    message: /printable ASCII characters without spaces/,
  },
  {
    name: 'a webhook header value that could never be sent',
    toml: '[[notify.webhooks]]\nname = "w"\nurl = "https://hooks.example.net/x"\nheaders = ["X-Api-Key: …"]',
    key: 'notify.webhooks[0].headers[0]',
    message: /the value must be printable ASCII/,
  },
  { name: 'a v2 target token that could never be sent', toml: '[[targets]]\nname = "b"\nkind = "influxdb-v2"\nurl = "http://b"\norg = "o"\ntoken = "…"', key: 'targets[0].token', message: /printable ASCII/ },
  { name: 'a duplicate token', toml: '[[auth.tokens]]\ntoken = "same"\n[[auth.tokens]]\ntoken = "same"', key: 'auth.tokens[1].token', message: /the same token as auth\.tokens\[0\]\.token/ },
  { name: 'the variable token repeating a file token', toml: '[[auth.tokens]]\ntoken = "same"', env: { CERTRELAY_AUTH_TOKEN: 'same' }, key: 'CERTRELAY_AUTH_TOKEN', message: /CERTRELAY_AUTH_TOKEN \(auth\.tokens\): the same token/ },
  { name: 'databases that are not strings', toml: '[[auth.tokens]]\ntoken = "x"\ndatabases = [1]', key: 'auth.tokens[0].databases', message: /expected an array of non-empty strings/ },
  { name: 'an unknown target kind', toml: '[[targets]]\nname = "a"\nkind = "influxdb-v3"\nurl = "http://a"', key: 'targets[0].kind', message: /targets\[0\]\.kind \(target "a"\): expected one of "influxdb-v1", "influxdb-v2", got "influxdb-v3"/ },
  {
    name: 'a duplicate target name',
    toml: '[[targets]]\nname = "a"\nkind = "influxdb-v1"\nurl = "http://a"\n[[targets]]\nname = "a"\nkind = "influxdb-v1"\nurl = "http://b"',
    key: 'targets[1].name',
    message: /targets\[1\]\.name \(target "a"\): duplicate target name, already used by targets\[0\]/,
  },
  { name: 'a target name with a space', toml: '[[targets]]\nname = "influx a"\nkind = "influxdb-v1"\nurl = "http://a"', key: 'targets[0].name', message: /letters, digits/ },
  { name: 'a target without url', toml: '[[targets]]\nname = "a"\nkind = "influxdb-v1"', key: 'targets[0].url', message: /targets\[0\]\.url \(target "a"\): required/ },
  { name: 'a v2 target without org', toml: '[[targets]]\nname = "b"\nkind = "influxdb-v2"\nurl = "http://b"\ntoken = "t"', key: 'targets[0].org', message: /targets\[0\]\.org \(target "b"\): required for an influxdb-v2 target/ },
  { name: 'a v2 target without token', toml: '[[targets]]\nname = "b"\nkind = "influxdb-v2"\nurl = "http://b"\norg = "o"', key: 'targets[0].token', message: /targets\[0\]\.token \(target "b"\): required for an influxdb-v2 target/ },
  { name: 'a v2 target with a username', toml: '[[targets]]\nname = "b"\nkind = "influxdb-v2"\nurl = "http://b"\norg = "o"\ntoken = "t"\nusername = "u"', key: 'targets[0].username', message: /only for influxdb-v1 targets/ },
  { name: 'a v1 target with username but no password', toml: '[[targets]]\nname = "a"\nkind = "influxdb-v1"\nurl = "http://a"\nusername = "u"', key: 'targets[0].password', message: /targets\[0\]\.password \(target "a"\): required/ },
  { name: 'a v1 target with both token and username', toml: '[[targets]]\nname = "a"\nkind = "influxdb-v1"\nurl = "http://a"\nusername = "u"\npassword = "p"\ntoken = "t"', key: 'targets[0].token', message: /either username\/password or token, not both/ },
  { name: 'a url that is not a url', toml: '[[targets]]\nname = "a"\nkind = "influxdb-v1"\nurl = "influx:8086"', key: 'targets[0].url', message: /expected an absolute http:\/\/ or https:\/\/ URL.*got "influx:8086"/ },
  { name: 'a url with a query', toml: '[[targets]]\nname = "a"\nkind = "influxdb-v1"\nurl = "http://a:8086/?db=x"', key: 'targets[0].url', message: /without query string/ },
  { name: 'a url with another scheme', toml: '[[targets]]\nname = "a"\nkind = "influxdb-v1"\nurl = "ftp://a"', key: 'targets[0].url', message: /got "ftp:\/\/a"/ },
  { name: 'a url with credentials', toml: '[[targets]]\nname = "a"\nkind = "influxdb-v1"\nurl = "http://u:p@a"', key: 'targets[0].url', message: /credentials/ },
  ...['hunter2/x', 'hunter2?x', 'hunter2#x'].map((password) => ({
    name: `a url with credentials whose password holds ${password.slice(-2, -1)}, the password not echoed`,
    toml: `[[targets]]\nname = "a"\nkind = "influxdb-v1"\nurl = "http://admin:${password}@a:8086"`,
    key: 'targets[0].url',
    message: /got "http:\/\/\*\*\*@a:8086"$/,
  })),
  { name: 'a url with credentials, the password not echoed', toml: '[[targets]]\nname = "a"\nkind = "influxdb-v1"\nurl = "http://admin:hunter2@a:8086/?db=x"', key: 'targets[0].url', message: /credentials.*got "http:\/\/\*\*\*@a:8086\/\?db=x"$/ },
  { name: 'tls_cert without tls_key', toml: '[server]\ntls_cert = "$DIR/cert.pem"', files: { 'cert.pem': 'C' }, key: 'server.tls_cert', message: /server\.tls_cert: server\.tls_key must be set too/ },
  { name: 'tls_key without tls_cert', toml: '[server]\ntls_key = "$DIR/key.pem"', files: { 'key.pem': 'K' }, key: 'server.tls_key', message: /server\.tls_key: server\.tls_cert must be set too/ },
  { name: 'a missing tls file', toml: '[server]\ntls_cert = "$DIR/cert.pem"\ntls_key = "$DIR/nope.pem"', files: { 'cert.pem': 'C' }, key: 'server.tls_key', message: /server\.tls_key: cannot read ".*nope\.pem": no such file/ },
  { name: 'a tls path that is a directory', toml: '[server]\ntls_cert = "$DIR"\ntls_key = "$DIR/key.pem"', files: { 'key.pem': 'K' }, key: 'server.tls_cert', message: /is not a regular file/ },
  { name: 'a store path that is a file', toml: '[store]\npath = "$DIR/file"', files: { file: 'x' }, key: 'store.path', message: /exists and is not a directory/ },
  { name: 'a store path under a file', toml: '[store]\npath = "$DIR/file/store"', files: { file: 'x' }, key: 'store.path', message: /cannot be used as a directory: ENOTDIR/ },
  { name: 'a negative free-space reserve', toml: '[store]\nmin_free_bytes = -1', key: 'store.min_free_bytes', message: /store\.min_free_bytes: expected a size in bytes from 0 to/ },
  { name: 'bad TOML syntax, with the line number from smol-toml', toml: '[server]\nlisten = "127.0.0.1:1"\nmax_body_bytes = = 3\n', key: '', message: /certrelay\.toml:3:\d+: invalid TOML: / },
  { name: 'a key defined twice', toml: '[server]\nlisten = "127.0.0.1:1"\nlisten = "127.0.0.1:2"\n', key: '', message: /certrelay\.toml:3:\d+: invalid TOML/ },
];

t.test('each invalid value is refused with an error that names its key', async (t) => {
  for (const c of BAD) {
    t.test(c.name, async (t) => {
      let file: string | undefined;
      if (c.toml !== undefined) {
        const dir = t.testdir({ ...c.files });
        file = join(dir, 'certrelay.toml');
        writeFileSync(file, c.toml.replaceAll('$DIR', dir));
      } else if (c.files) {
        t.testdir(c.files);
      }
      const err = loadError(() => loadConfig({ file, env: c.env ?? {} }));
      t.equal(err.key, c.key, 'key');
      t.match(err.problems[0].message, c.message);
      t.match(err.message, /^config: /);
      t.notOk(err.message.includes('hunter2'), 'no password in the message');
      if (file !== undefined && !err.key.startsWith('CERTRELAY_')) t.match(err.problems[0].message, file, 'the message names the file');
    });
  }
});

t.test('every problem is reported at once, one line each', async (t) => {
  const file = tomlFile(t, '[server]\nlisten = "x"\nmax_body_bytes = -1\n[[targets]]\nname = "a"\nkind = "nope"\nurl = "http://a"\n');
  const err = loadError(() => loadConfig({ file, env: { CERTRELAY_STORE_MAX_BYTES: 'lots' } }));
  t.same(err.problems.map((p) => p.key), ['server.listen', 'server.max_body_bytes', 'CERTRELAY_STORE_MAX_BYTES', 'targets[0].kind']);
  t.equal(err.message.split('\n').length, 4);
});

t.test('an unreadable or missing file is an error, not a fall-back to defaults', async (t) => {
  const dir = t.testdir({});
  const missing = join(dir, 'missing.toml');
  t.match(loadError(() => loadConfig({ file: missing, env: {} })).message, `config: ${missing}: cannot read the configuration file`);
  t.match(loadError(() => loadConfig({ env: { CERTRELAY_CONFIG: missing } })).message, `${missing} (from CERTRELAY_CONFIG)`);
  t.match(loadError(() => loadConfig({ env: { CERTRELAY_CONFIG: '' } })).message, /path \(from CERTRELAY_CONFIG\) is empty/);
});

t.test('a tls file that cannot be read as a file is refused at start-up', async (t) => {
  // A directory in place of the key: unreadable as a file even for root, which CI runs as.
  const dir = t.testdir({ 'c.pem': 'C', 'k.pem': {} });
  const err = loadError(() => loadConfig({ env: { CERTRELAY_TLS_CERT: join(dir, 'c.pem'), CERTRELAY_TLS_KEY: join(dir, 'k.pem') } }));
  t.match(err.message, /CERTRELAY_TLS_KEY \(server\.tls_key\): /);
  t.notMatch(err.message, /CERTRELAY_TLS_CERT/);
});

t.test('secrets never appear in error messages', async (t) => {
  const file = tomlFile(
    t,
    '[[auth.tokens]]\ntoken = "sec ret-token"\n[[targets]]\nname = "a"\nkind = "influxdb-v1"\nurl = "http://a"\npassword = "pass word-1"\ntoken = "tok en-2"\n',
  );
  const err = loadError(() => loadConfig({ file, env: { CERTRELAY_AUTH_TOKEN: 'env token' } }));
  t.ok(err.problems.length >= 3);
  for (const secret of ['sec ret', 'pass word', 'tok en', 'env token']) t.notMatch(err.message, secret);
});

t.test('a TOML syntax error does not print the neighbouring lines (they may hold tokens)', async (t) => {
  const file = tomlFile(t, '[[auth.tokens]]\ntoken = "very-secret"\n[server\n');
  const err = loadError(() => loadConfig({ file, env: {} }));
  t.match(err.message, /certrelay\.toml:3:\d+: invalid TOML/);
  t.notMatch(err.message, 'very-secret');
  t.equal(err.message.split('\n').length, 1);
});

t.test('sizes: integers of bytes or a number with a decimal or binary unit', async (t) => {
  const cases: Array<[string, bigint | undefined]> = [
    ['0', 0n],
    ['1048576', 1048576n],
    ['512MiB', 512n * 2n ** 20n],
    ['2GB', 2_000_000_000n],
    ['2gb', 2_000_000_000n],
    ['1.5 GiB', 3n * 2n ** 29n],
    ['10KB', 10_000n],
    ['1TiB', 2n ** 40n],
    ['7B', 7n],
    ['0.5B', undefined],
    ['1.25KiB', 1280n],
    ['1.0001KB', undefined],
    ['', undefined],
    ['-1', undefined],
    ['1e6', undefined],
    ['5 M', undefined],
    [' 5MB', undefined],
    ['5  MB', undefined],
  ];
  for (const [text, bytes] of cases) t.equal(parseByteSize(text), bytes, JSON.stringify(text));
});

t.test('listen addresses', async (t) => {
  const cases: Array<[string, { host: string; port: number } | undefined]> = [
    ['127.0.0.1:8186', { host: '127.0.0.1', port: 8186 }],
    ['0.0.0.0:0', { host: '0.0.0.0', port: 0 }],
    ['localhost:65535', { host: 'localhost', port: 65535 }],
    ['relay.example.net:80', { host: 'relay.example.net', port: 80 }],
    ['[::1]:8186', { host: '::1', port: 8186 }],
    ['[::]:8186', { host: '::', port: 8186 }],
    ['::1:8186', undefined],
    ['[::1]', undefined],
    ['[nonsense]:1', undefined],
    ['127.0.0.1', undefined],
    [':8186', undefined],
    ['host:', undefined],
    ['host:65536', undefined],
    ['host:-1', undefined],
    ['300.1.1.1:80', undefined],
    ['bad_host:80', undefined],
    ['http://host:80', undefined],
  ];
  for (const [text, listen] of cases) t.same(parseListen(text), listen, text);
});

t.test('a store directory that does not exist yet is fine (the store creates it)', async (t) => {
  const dir = t.testdir({});
  mkdirSync(join(dir, 'exists'));
  t.equal(loadConfig({ env: { CERTRELAY_STORE_PATH: join(dir, 'not-yet') } }).store.path, join(dir, 'not-yet'));
  t.equal(loadConfig({ env: { CERTRELAY_STORE_PATH: join(dir, 'exists') } }).store.path, join(dir, 'exists'));
});

t.test('max_inflight_body_bytes, when not set, grows with max_body_bytes: a configuration that raised only that still starts', async (t) => {
  t.equal(loadConfig({ env: { CERTRELAY_MAX_BODY_BYTES: '100MB' } }).server.maxInflightBodyBytes, 100_000_000);
  t.equal(loadConfig({ env: { CERTRELAY_MAX_BODY_BYTES: '1MB' } }).server.maxInflightBodyBytes, 64 * 1024 ** 2, 'never below its default');
  t.throws(() => loadConfig({ env: { CERTRELAY_MAX_BODY_BYTES: '100MB', CERTRELAY_MAX_INFLIGHT_BODY_BYTES: '64MiB' } }), /smaller than server\.max_body_bytes/, 'set smaller by hand: an error');
});
