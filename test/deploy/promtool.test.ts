// deploy/prometheus/: the alert rules load (`promtool check rules`) and behave as
// their unit tests say (`promtool test rules`: firing, pending, a fresh
// certificate that never fires, recovery after a renewal, a stale or absent
// evaluator, forwarding trouble). And promtool does fail a wrong expectation,
// so a green run here means something.
import t from 'tap';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, stringify } from 'yaml';

const DIR = fileURLToPath(new URL('../../deploy/prometheus/', import.meta.url));
const RULES = join(DIR, 'certrelay-rules.yml');
const TESTS = join(DIR, 'certrelay-rules.test.yml');

interface Run {
  code: number;
  output: string;
}

function promtool(...args: string[]): Promise<Run> {
  return new Promise((resolve, reject) => {
    execFile('promtool', args, { timeout: 120_000 }, (err, stdout, stderr) => {
      if (err && typeof err.code !== 'number') return reject(err); // not installed, killed …
      resolve({ code: typeof err?.code === 'number' ? err.code : 0, output: stdout + stderr });
    });
  });
}

t.test('promtool check rules accepts every rule', async (t) => {
  const run = await promtool('check', 'rules', RULES);
  t.equal(run.code, 0, run.output);
  t.match(run.output, /SUCCESS: 9 rules found/);
});

t.test('promtool test rules: every expectation in certrelay-rules.test.yml holds', async (t) => {
  const run = await promtool('test', 'rules', TESTS);
  t.equal(run.code, 0, run.output);
  t.match(run.output, /SUCCESS/);
});

t.test('every alert in the rules file is exercised by the unit tests', async (t) => {
  const rules = parse(readFileSync(RULES, 'utf8')) as { groups: { rules: { alert: string }[] }[] };
  const tests = parse(readFileSync(TESTS, 'utf8')) as { tests: { alert_rule_test: { alertname: string; exp_alerts: unknown[] }[] }[] };
  const alerts = rules.groups.flatMap((g) => g.rules.map((r) => r.alert)).sort();
  const firing = new Set(tests.tests.flatMap((x) => x.alert_rule_test.filter((a) => a.exp_alerts.length > 0).map((a) => a.alertname)));
  t.same(alerts.filter((a) => !firing.has(a)), [], 'each alert is shown firing at least once');
});

t.test('a wrong expectation makes promtool fail: a fresh certificate reported as overdue', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'certrelay-promtool-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const suite = parse(readFileSync(TESTS, 'utf8'));
  suite.rule_files = [RULES];
  const first = suite.tests[0];
  const at20 = first.alert_rule_test.find((a: { alertname: string; eval_time: string }) => a.alertname === 'CertbotRenewalOverdue' && a.eval_time === '20m');
  at20.exp_alerts.push({
    exp_labels: { severity: 'critical', domain: 'fresh.example', host: 'web01', instance: 'relay:8186', job: 'certrelay' },
  });
  const wrong = join(dir, 'wrong.test.yml');
  writeFileSync(wrong, stringify(suite));
  const run = await promtool('test', 'rules', wrong);
  t.not(run.code, 0, 'promtool exits non-zero');
  t.match(run.output, /FAILED/);
  t.match(run.output, /fresh\.example/, 'for the expectation that did not hold');
});
