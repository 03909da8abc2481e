import t from 'tap';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../../src/config/load.js';
import { CONFIG_FILE_ENV, HOOK_ENV_PREFIX, KEYS, renderDefault, typeName } from '../../src/config/schema.js';

const doc = readFileSync(new URL('../../docs/configuration.md', import.meta.url), 'utf8');
const examplePath = fileURLToPath(new URL('../../deploy/certrelay.example.toml', import.meta.url));
const example = readFileSync(examplePath, 'utf8');

/** Rows of the key table: `| \`key\` | type | default | unit | variable | description |`. */
const rows = new Map(
  doc
    .split('\n')
    .map((line) => line.split(/(?<!\\)\|/).slice(1, -1).map((cell) => cell.trim()))
    .filter((cells) => cells.length === 6 && /^`[^`]+`$/.test(cells[0]))
    .map((cells) => [cells[0].slice(1, -1), cells] as const),
);

const unquote = (cell: string) => cell.replace(/^`(.*)`$/, '$1');

t.test('every key of the catalog has a row in docs/configuration.md with its type, default, unit and variable', async (t) => {
  for (const def of KEYS) {
    const row = rows.get(def.key);
    if (!t.ok(row, `${def.key} has a row`) || row === undefined) continue;
    const [, type, dflt, unit, env] = row;
    t.equal(type, typeName(def.type), `${def.key}: type`);
    t.equal(unquote(dflt), renderDefault(def), `${def.key}: default`);
    t.equal(unit, def.unit ?? '—', `${def.key}: unit`);
    t.equal(unquote(env), def.env ?? '—', `${def.key}: variable`);
  }
});

t.test('docs/configuration.md documents no key the catalog lacks', async (t) => {
  const known = new Set(KEYS.map((d) => d.key));
  for (const key of rows.keys()) t.ok(known.has(key), `${key} is in the catalog`);
  // Keys named in the prose too, in either spelling: `targets[].url` or `targets.url`.
  const spelled = new Set([...known, ...[...known].map((k) => k.replace(/\[\]/g, ''))]);
  for (const [, key] of doc.matchAll(/`((?:server|store|auth|validation|targets|renewals|notify)(?:\[\])?\.[a-z_.[\]]+)`/g)) {
    t.ok(spelled.has(key), `${key} (mentioned in the prose) is in the catalog`);
  }
});

t.test('docs/configuration.md names every CERTRELAY_ variable, and only those', async (t) => {
  const known = new Set([CONFIG_FILE_ENV, HOOK_ENV_PREFIX, ...KEYS.flatMap((d) => (d.env ? [d.env] : []))]);
  const mentioned = new Set([...doc.matchAll(/\bCERTRELAY_[A-Z_]+\b/g)].map((m) => m[0]));
  for (const name of known) t.ok(mentioned.has(name), `${name} is documented`);
  for (const name of mentioned) t.ok(known.has(name), `${name} (in the doc) exists`);
});

t.test('deploy/certrelay.example.toml loads without error', async (t) => {
  const config = loadConfig({ file: examplePath, env: {} });
  t.equal(config.targets.length, 2);
  t.equal(config.auth.tokens.length, 2);
  t.equal(config.server.maxBodyBytes, 25_000_000, '"25MB" is the default, spelled as a size');
});

t.test('the example sets every table key of the catalog (commented out when it has no default)', async (t) => {
  for (const def of KEYS) {
    const leaf = def.key.slice(def.key.lastIndexOf('.') + 1);
    t.match(example, new RegExp(`^#? ?${leaf} = `, 'm'), `${def.key} appears in the example`);
  }
});

t.test('the full example in docs/configuration.md is deploy/certrelay.example.toml', async (t) => {
  const block = /## Full example[\s\S]*?```toml\n([\s\S]*?)```/.exec(doc);
  t.ok(block, 'the doc has a "Full example" toml block');
  t.equal(block?.[1], example);
});

t.test("every TOML example in README.md and docs/*.md loads as it is written", async (t) => {
  const files = ['README.md', 'docs/deployment.md', 'docs/alerting.md', 'docs/configuration.md'];
  let examples = 0;
  for (const name of files) {
    const text = readFileSync(new URL(`../../${name}`, import.meta.url), 'utf8');
    for (const [, indent, body] of text.matchAll(/^( *)```toml\n([\s\S]*?)^ *```/gm)) {
      const toml = body.replace(new RegExp(`^ {0,${indent.length}}`, 'gm'), '');
      const file = `${t.testdir({ 'example.toml': toml })}/example.toml`;
      t.doesNotThrow(() => loadConfig({ file, env: {} }), `${name}, example ${++examples}`);
    }
  }
  t.ok(examples >= 3, `${examples} examples checked`);
});
