import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import t from 'tap';
import { Store } from '../../src/log/store.js';

const FIXTURE = fileURLToPath(new URL('../fixtures/append-until-killed.ts', import.meta.url));
const PROJECT_ROOT = fileURLToPath(new URL('../..', import.meta.url));
const ACKS_BEFORE_KILL = 2000;

t.test('every acknowledged batch survives SIGKILL of the writing process', async (t) => {
  const dir = t.testdir();
  // cwd: `--import tsx` is resolved from the project's node_modules.
  const child = spawn(process.execPath, ['--import', 'tsx', FIXTURE, dir], {
    cwd: PROJECT_ROOT,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)));

  const acked: number[] = [];
  for await (const line of createInterface({ input: child.stdout })) {
    const match = /^ack (\d+)$/.exec(line);
    if (match === null) continue;
    acked.push(Number(match[1]));
    // Killed mid-stream: other commits are in flight at this moment.
    if (acked.length === ACKS_BEFORE_KILL) child.kill('SIGKILL');
  }
  t.equal(await exited, 'SIGKILL');
  t.ok(acked.length >= ACKS_BEFORE_KILL, `${acked.length} batches acknowledged before the kill`);

  const store = Store.open({ dir, maxBytes: 1024 * 1024 * 1024 });
  t.teardown(() => store.close());
  const stored = store.readBatchesAfter(0, 1_000_000).map((b) => Number(/seq=(\d+)i/.exec(b.lines)?.[1]));
  const present = new Set(stored);
  t.same(acked.filter((seq) => !present.has(seq)), [], 'no acknowledged batch is missing');
  t.same(stored, [...stored].sort((a, b) => a - b), 'batches are stored in submit order');

  const check = new Database(store.file, { readonly: true });
  t.teardown(() => check.close());
  t.equal(check.pragma('integrity_check', { simple: true }), 'ok');
});
