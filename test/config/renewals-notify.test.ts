// [renewals] and [notify]: the monitoring policy and the notification channels
// are read, defaulted and checked like every other key, and their secrets
// never show up in an error.
import t, { type Test } from 'tap';
import { join } from 'node:path';
import { ConfigError, loadConfig } from '../../src/config/load.js';

function tomlFile(t: Test, toml: string): string {
  return join(t.testdir({ 'certrelay.toml': toml }), 'certrelay.toml');
}

function problemsOf(t: Test, toml: string, env: Record<string, string> = {}): ConfigError {
  try {
    loadConfig({ file: tomlFile(t, toml), env });
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

const FULL = `
[renewals]
grace_days = 3
default_interval_days = 45
evaluation_interval_seconds = 60
reminder_interval_hours = 24
max_certificates = 500

[[renewals.expected]]
host = "optimus"
domain = "example.com"

[[renewals.expected]]
host = "optimus"
domain = "*.example.org"

[notify]
retry_initial_ms = 100
retry_max_ms = 1000

[[notify.webhooks]]
name = "hook"
url = "https://hooks.example.net/T0/B0/secret?channel=ops"
headers = ["X-Api-Key: k-123", "X-Team:ops"]
timeout_ms = 2000

[[notify.webhooks]]
name = "bearer-hook"
url = "http://127.0.0.1:9000/alerts"
bearer_token = "tok"

[[notify.email]]
name = "mail"
host = "smtp.example.net"
port = 465
security = "tls"
user = "certrelay"
password = "pw"
from = "certrelay <certrelay@example.net>"
to = ["ops@example.net", "Oncall <oncall@example.net>"]
`;

t.test('a full [renewals] and [notify] configuration is read as written', async (t) => {
  const config = loadConfig({ file: tomlFile(t, FULL), env: {} });
  t.same(config.renewals, {
    graceDays: 3,
    defaultIntervalDays: 45,
    evaluationIntervalSeconds: 60,
    reminderIntervalHours: 24,
    maxCertificates: 500,
    expected: [
      { host: 'optimus', domain: 'example.com' },
      { host: 'optimus', domain: '*.example.org' },
    ],
  });
  t.same(config.notify, {
    retryInitialMs: 100,
    retryMaxMs: 1000,
    webhooks: [
      {
        name: 'hook',
        url: 'https://hooks.example.net/T0/B0/secret?channel=ops',
        headers: [
          ['X-Api-Key', 'k-123'],
          ['X-Team', 'ops'],
        ],
        timeoutMs: 2000,
      },
      { name: 'bearer-hook', url: 'http://127.0.0.1:9000/alerts', headers: [], bearerToken: 'tok', timeoutMs: 10_000 },
    ],
    email: [
      {
        name: 'mail',
        host: 'smtp.example.net',
        port: 465,
        security: 'tls',
        user: 'certrelay',
        password: 'pw',
        from: 'certrelay <certrelay@example.net>',
        to: ['ops@example.net', 'Oncall <oncall@example.net>'],
        timeoutMs: 30_000,
      },
    ],
  });
  t.ok(Object.isFrozen(config.notify.webhooks[0].headers[0]), 'frozen all the way down');
});

t.test('an e-mail channel defaults to port 587 with STARTTLS required and no authentication', async (t) => {
  const config = loadConfig({ file: tomlFile(t, '[[notify.email]]\nname = "m"\nhost = "smtp"\nfrom = "a@b.c"\nto = ["d@e.f"]\n'), env: {} });
  t.same(config.notify.email, [{ name: 'm', host: 'smtp', port: 587, security: 'starttls', from: 'a@b.c', to: ['d@e.f'], timeoutMs: 30_000 }]);
});

t.test('the [renewals] and [notify] scalars have CERTRELAY_ variables', async (t) => {
  const config = loadConfig({
    env: {
      CERTRELAY_RENEWALS_GRACE_DAYS: '0',
      CERTRELAY_RENEWALS_DEFAULT_INTERVAL_DAYS: '30',
      CERTRELAY_RENEWALS_EVALUATION_INTERVAL_SECONDS: '5',
      CERTRELAY_RENEWALS_REMINDER_INTERVAL_HOURS: '6',
      CERTRELAY_RENEWALS_MAX_CERTIFICATES: '7',
      CERTRELAY_NOTIFY_RETRY_INITIAL_MS: '10',
      CERTRELAY_NOTIFY_RETRY_MAX_MS: '20',
    },
  });
  t.same(config.renewals, { graceDays: 0, defaultIntervalDays: 30, evaluationIntervalSeconds: 5, reminderIntervalHours: 6, maxCertificates: 7, expected: [] });
  t.equal(config.notify.retryInitialMs, 10);
  t.equal(config.notify.retryMaxMs, 20);
});

interface BadCase {
  readonly name: string;
  readonly toml: string;
  readonly env?: Record<string, string>;
  readonly key: string;
  readonly message: RegExp;
}

const BAD: readonly BadCase[] = [
  { name: 'a negative grace', toml: '[renewals]\ngrace_days = -1', key: 'renewals.grace_days', message: /expected an integer number of days from 0 to 3650, got -1/ },
  { name: 'a zero default interval', toml: '[renewals]\ndefault_interval_days = 0', key: 'renewals.default_interval_days', message: /from 1 to 3650, got 0/ },
  {
    name: 'an evaluation interval from the environment that is not a number',
    toml: '',
    env: { CERTRELAY_RENEWALS_EVALUATION_INTERVAL_SECONDS: '15m' },
    key: 'CERTRELAY_RENEWALS_EVALUATION_INTERVAL_SECONDS',
    message: /\(renewals\.evaluation_interval_seconds\): expected an integer number of seconds/,
  },
  { name: 'a reminder interval in a float', toml: '[renewals]\nreminder_interval_hours = 1.5', key: 'renewals.reminder_interval_hours', message: /integer number of hours/ },
  { name: 'an expected pair without its domain', toml: '[[renewals.expected]]\nhost = "h"', key: 'renewals.expected[0].domain', message: /: required$/ },
  {
    name: 'an expected pair listed twice',
    toml: '[[renewals.expected]]\nhost = "h"\ndomain = "d"\n[[renewals.expected]]\nhost = "h"\ndomain = "d"',
    key: 'renewals.expected[1].domain',
    message: /"d" on "h" is already listed at renewals\.expected\[0\]/,
  },
  {
    // domain=all is a host's total: no certificate report ever matches it, so it would alert as never reported.
    name: 'an expected pair for a host\'s total, domain "all"',
    toml: '[[renewals.expected]]\nhost = "optimus"\ndomain = "all"',
    key: 'renewals.expected[0].domain',
    message: /expected a certificate's DNS name or wildcard name \(not "all", a host's total\), got "all"/,
  },
  {
    name: 'an expected pair whose domain the schema refuses, never reported',
    toml: '[[renewals.expected]]\nhost = "optimus"\ndomain = "example.com."',
    key: 'renewals.expected[0].domain',
    message: /expected a certificate's DNS name or wildcard name .*got "example\.com\."/,
  },
  { name: 'retry_max_ms below retry_initial_ms', toml: '[notify]\nretry_initial_ms = 500\nretry_max_ms = 100', key: 'notify.retry_max_ms', message: /100 is smaller than notify\.retry_initial_ms \(500\)/ },
  { name: 'a webhook without url', toml: '[[notify.webhooks]]\nname = "w"', key: 'notify.webhooks[0].url', message: /notify\.webhooks\[0\]\.url \(channel "w"\): required/ },
  {
    name: 'a webhook url with credentials, not echoed',
    toml: '[[notify.webhooks]]\nname = "w"\nurl = "https://user:s3cret@hooks.example.net/x"',
    key: 'notify.webhooks[0].url',
    message: /^(?!.*s3cret).*expected an absolute http:\/\/ or https:\/\/ URL without fragment or credentials$/,
  },
  {
    name: 'a header entry without a name, not echoed',
    toml: '[[notify.webhooks]]\nname = "w"\nurl = "http://h/x"\nheaders = ["no-colon-s3cret"]',
    key: 'notify.webhooks[0].headers[0]',
    message: /^(?!.*s3cret).*expected "Name: value" with a valid header name$/,
  },
  {
    name: 'a bearer token and an Authorization header',
    toml: '[[notify.webhooks]]\nname = "w"\nurl = "http://h/x"\nbearer_token = "t"\nheaders = ["authorization: Basic x"]',
    key: 'notify.webhooks[0].bearer_token',
    message: /either bearer_token or an Authorization header/,
  },
  {
    name: 'an SMTP user without password',
    toml: '[[notify.email]]\nname = "m"\nhost = "smtp"\nuser = "u"\nfrom = "a@b.c"\nto = ["d@e.f"]',
    key: 'notify.email[0].password',
    message: /user and password together, or neither/,
  },
  { name: 'an e-mail channel with no recipient', toml: '[[notify.email]]\nname = "m"\nhost = "smtp"\nfrom = "a@b.c"\nto = []', key: 'notify.email[0].to', message: /at least one recipient/ },
  {
    name: 'a recipient that is not an address',
    toml: '[[notify.email]]\nname = "m"\nhost = "smtp"\nfrom = "a@b.c"\nto = ["ops"]',
    key: 'notify.email[0].to[0]',
    message: /expected an e-mail address .*got "ops"/,
  },
  { name: 'a sender that is not an address', toml: '[[notify.email]]\nname = "m"\nhost = "smtp"\nfrom = "certrelay"\nto = ["a@b.c"]', key: 'notify.email[0].from', message: /expected a non-empty string of an e-mail address/ },
  { name: 'an unknown security mode', toml: '[[notify.email]]\nname = "m"\nhost = "smtp"\nsecurity = "ssl"\nfrom = "a@b.c"\nto = ["a@b.c"]', key: 'notify.email[0].security', message: /one of "starttls", "tls", "none", got "ssl"/ },
  {
    name: 'a password of the wrong type, not echoed',
    toml: '[[notify.email]]\nname = "m"\nhost = "smtp"\nuser = "u"\npassword = 12345678\nfrom = "a@b.c"\nto = ["a@b.c"]',
    key: 'notify.email[0].password',
    message: /^(?!.*12345678).*password \(channel "m"\): expected a non-empty string/,
  },
  {
    name: 'a channel name used by a webhook and an e-mail channel',
    toml: '[[notify.webhooks]]\nname = "ops"\nurl = "http://h/x"\n[[notify.email]]\nname = "ops"\nhost = "smtp"\nfrom = "a@b.c"\nto = ["a@b.c"]',
    key: 'notify.email[0].name',
    message: /duplicate channel name, already used by notify\.webhooks\[0\]\.name/,
  },
  { name: 'a misspelt e-mail key', toml: '[[notify.email]]\nname = "m"\nhots = "smtp"\nfrom = "a@b.c"\nto = ["a@b.c"]', key: 'notify.email[0].hots', message: /did you mean "notify\.email\[0\]\.host"\?/ },
  { name: 'an unknown CERTRELAY_ variable near a renewals one', toml: '', env: { CERTRELAY_RENEWALS_GRACE: '2' }, key: 'CERTRELAY_RENEWALS_GRACE', message: /did you mean CERTRELAY_RENEWALS_GRACE_DAYS\?/ },
];

t.test('each invalid [renewals] or [notify] value is refused with an error that names its key', async (t) => {
  for (const c of BAD) {
    t.test(c.name, async (t) => {
      const err = problemsOf(t, c.toml, c.env);
      t.equal(err.key, c.key, 'key');
      t.match(err.problems[0].message, c.message);
    });
  }
});
