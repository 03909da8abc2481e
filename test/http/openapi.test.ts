import t from 'tap';
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { relayFor } from '../support/relay.js';

const spec = parse(readFileSync(new URL('../../openapi.yaml', import.meta.url), 'utf8')) as { paths: Record<string, Record<string, unknown>> };
const documented = Object.entries(spec.paths).flatMap(([path, methods]) => Object.keys(methods).map((m) => `${m.toUpperCase()} ${path}`));

t.test('openapi.yaml and the routes describe the same paths and methods', async (t) => {
  const relay = relayFor(t);
  await relay.app.ready();
  const served = relay.routes.filter((r) => !r.startsWith('OPTIONS '));
  t.ok(served.length > 0);
  t.same([...new Set(served)].sort(), [...documented].sort());
});
