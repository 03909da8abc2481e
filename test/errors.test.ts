import t from 'tap';
import { readFileSync } from 'node:fs';
import { ERRORS, RelayError } from '../src/errors.js';

const doc = readFileSync(new URL('../docs/errors.md', import.meta.url), 'utf8');

t.test('every error code in the catalog is documented in docs/errors.md, with its status', async (t) => {
  for (const [code, spec] of Object.entries(ERRORS)) {
    const row = doc.split('\n').find((line) => line.startsWith(`| \`${code}\` |`));
    t.ok(row, `${code} has a row`);
    t.match(row ?? '', new RegExp(`\\| ${spec.status} \\|`), `${code} row says ${spec.status}`);
  }
});

t.test('docs/errors.md lists no code the catalog lacks', async (t) => {
  const documented = [...doc.matchAll(/^\| `(CR_[A-Z_]+)` \|/gm)].map((m) => m[1]);
  t.same(documented.filter((code) => !(code in ERRORS)), []);
});

t.test('a RelayError fills its message template and carries status and Retry-After', async (t) => {
  const err = new RelayError('CR_BAD_PRECISION', '"nanos"', 'ns, s');
  t.equal(err.message, 'invalid precision "nanos": use one of ns, s');
  t.equal(err.status, 400);
  t.equal(new RelayError('CR_STORE_FULL').retryAfterSeconds, 30);
  t.equal(new RelayError('CR_STORE_FULL').status, 503);
});
