// The forwarder tests' common setup: a fake in-process InfluxDB, a store in the
// test's own directory and the forwarders running on it, all torn down with
// the test. Shared by test/forward/forwarder.test.ts and
// test/forward/held-destination.test.ts.
import type { Test } from 'tap';
import type { TargetConfig } from '../../src/config/defaults.js';
import { Forwarding, type ForwardingDeps } from '../../src/forward/forwarders.js';
import { Store } from '../../src/log/store.js';
import { batch, startFakeTarget, targetConfig, type FakeTarget, type Handler } from './fake-target.js';

export interface ForwardingSetup {
  readonly fake: FakeTarget;
  readonly store: Store;
  readonly target: TargetConfig;
  forwarding: Forwarding;
  /** Appends to the store and wakes the forwarders, as an accepted write does. */
  append(...batches: ReturnType<typeof batch>[]): void;
  /** Stops the forwarders, as a shutdown does, and starts new ones on the same store. */
  restart(): Promise<void>;
}

/** One target (`targetConfig` plus `overrides`) at a fake answering with `handler`. */
export async function setupForwarding(
  t: Test,
  handler: Handler,
  overrides: Partial<TargetConfig> = {},
  pollIntervalMs = 50,
  deps: Pick<ForwardingDeps, 'roundBuilder' | 'gcIntervalMs' | 'log'> & { readonly storeMaxBytes?: number } = {},
): Promise<ForwardingSetup> {
  const fake = await startFakeTarget(t, handler);
  const target = targetConfig({ url: fake.url, ...overrides });
  const { storeMaxBytes = 1 << 30, ...forwardingDeps } = deps;
  const store = Store.open({ dir: t.testdir({}), maxBytes: storeMaxBytes, targets: [target.name] });
  const start = () => new Forwarding({ store, targets: [target], pollIntervalMs, ...forwardingDeps }).start();
  const s: ForwardingSetup = {
    fake,
    store,
    target,
    forwarding: start(),
    append(...batches) {
      store.appendBatches(batches);
      s.forwarding.wake();
    },
    async restart() {
      await s.forwarding.stop(0);
      s.forwarding = start();
    },
  };
  t.teardown(async () => {
    await s.forwarding.stop(0);
    store.close();
  });
  return s;
}

/** `n` lines `<prefix>,host=hI v=Ii <ns>` for I = from…from+n-1, each with its own timestamp. */
export const numberedLines = (prefix: string, n: number, from = 0): string[] =>
  Array.from({ length: n }, (_, i) => `${prefix},host=h${i + from} v=${i + from}i ${1_700_000_000_000_000_000n + BigInt(i + from)}`);

/** The id of the store's newest batch (0 when empty): where a caught-up cursor stands. */
export const lastBatchId = (store: Store): number => store.readBatchHeadsAfter(0, 1_000_000).at(-1)?.id ?? 0;
