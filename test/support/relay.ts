// Builds a real relay (real parser, real SQLite store in a temp dir) from TOML
// text, the way an operator configures it, for app.inject() tests.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Test } from 'tap';
import { buildApp, type AppDeps, type Relay } from '../../src/app.js';
import { loadConfig } from '../../src/config/load.js';

export function relayFor(t: Test, toml = '', deps: AppDeps = {}): Relay {
  const dir = t.testdir({});
  const file = join(dir, 'certrelay.toml');
  writeFileSync(file, toml);
  const config = loadConfig({ file, env: { CERTRELAY_STORE_PATH: join(dir, 'store'), CERTRELAY_LISTEN: '127.0.0.1:0' } });
  const relay = buildApp(config, deps);
  t.teardown(() => relay.close());
  return relay;
}

/** Every line the store holds, in arrival order. */
export function storedLines(relay: Relay): string[] {
  return relay.store.readBatchesAfter(0, 1_000_000).flatMap((b) => String(b.lines).split('\n'));
}
