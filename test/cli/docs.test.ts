// docs/operations.md is the CLI's reference: every --json field the commands
// print, every exit code and every command must be in it.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { HELP } from '../../src/cli/args.js';
import { deadLetterJson } from '../../src/cli/dead-letters.js';
import { EXIT, type CliIo } from '../../src/cli/output.js';
import { runReplay } from '../../src/cli/replay.js';
import { statusJson } from '../../src/cli/status.js';
import { loadConfig } from '../../src/config/load.js';
import { Store } from '../../src/log/store.js';
import { DEFAULT_POLICY } from '../../src/renewals/policy.js';
import { RenewalStore } from '../../src/renewals/renewal-store.js';
import { renewalOverview } from '../../src/renewals/overview.js';
import { batch } from '../support/fake-target.js';

const doc = readFileSync(new URL('../../docs/operations.md', import.meta.url), 'utf8');
/** Every name in backticks; `targets[].name` documents both `targets` and `name`. */
const documented = new Set([...doc.matchAll(/`([A-Za-z_[\].]+)`/g)].flatMap((m) => m[1].split(/[.[\]]+/).filter((part) => part !== '')));

function keysOf(value: unknown, into = new Set<string>()): Set<string> {
  if (Array.isArray(value)) for (const item of value) keysOf(item, into);
  else if (typeof value === 'object' && value !== null) {
    for (const [key, child] of Object.entries(value)) {
      into.add(key);
      keysOf(child, into);
    }
  }
  return into;
}

t.test('every field of status, renewals, dead-letter and replay JSON is documented', async (t) => {
  const dir = t.testdir({});
  const file = join(dir, 'certrelay.toml');
  writeFileSync(file, `[store]\npath = "${join(dir, 'store')}"\n[[targets]]\nname = "a"\nkind = "influxdb-v1"\nurl = "http://127.0.0.1:9"\n`);
  const config = loadConfig({ file, env: {} });
  const store = Store.open({ dir: config.store.path, maxBytes: 1 << 30, targets: ['a'] });
  t.teardown(() => store.close());
  store.appendBatches([batch('m v=1 1')]);
  const [head] = store.readBatchHeadsAfter(0, 1);
  store.advanceCursor('a', head.id, [], [{ batchId: head.id, db: 'telegraf', rp: '', lines: 'm v=1 1', points: 1, status: 400, error: 'no' }], 1, true);

  const out: string[] = [];
  const io: CliIo = { stdout: { write: (s: string) => out.push(s) }, stderr: { write: () => true }, env: {}, nowMs: Date.now };
  const renewals = new RenewalStore(store, DEFAULT_POLICY, { certbotMeasurement: config.validation.certbotMeasurement });
  // A renewal in the log, taken into the state the way a restart does.
  store.appendBatches([batch(`certbot_renewal,domain=example.com,host=h renewed_count=1 ${BigInt(Date.now()) * 1_000_000n}`)]);
  renewals.recover();
  const fields = new Set([
    ...keysOf(statusJson(store, config, Date.now())),
    ...keysOf(renewalOverview(renewals, Date.now())),
    ...keysOf(store.listDeadLetters().map(deadLetterJson)),
  ]);
  t.equal(await runReplay(io, store, config, { ids: [], wait: false, timeoutMs: 1000 }, true), 0);
  for (const key of keysOf(JSON.parse(out.join('')))) fields.add(key);
  t.ok(fields.size > 30, `${fields.size} fields seen`);
  for (const key of fields) t.ok(documented.has(key), `"${key}" is in docs/operations.md`);
});

t.test('every exit code and every command is documented', async (t) => {
  for (const [name, code] of Object.entries(EXIT)) t.match(doc, new RegExp(`\\n\\| ${code} \\|`), `exit code ${code} (${name})`);
  for (const command of Object.keys(HELP)) {
    const line = ['status', 'renewals', 'dead-letters'].includes(command) ? `certrelay ${command}` : `certrelay dead-letters ${command}`;
    t.ok(doc.includes(`## \`${line}`), `a section for ${line}`);
  }
});
