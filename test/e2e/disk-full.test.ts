// A real disk running out of space, under the relay as operators run it. The
// store lives on a small tmpfs of its own, next to a filler file that stands
// for the host's other data. Whether the relay stops at store.min_free_bytes
// or SQLite meets ENOSPC itself, writers get 503 + Retry-After (never a 500,
// never a 204 for a point that was not stored), the log says so once, and
// writes are taken again once the filler is deleted. Every acknowledged point
// is in the store at the end. A relay cannot start on a full or read-only
// disk; it says why in one line. Mounting needs root (CAP_SYS_ADMIN), as
// `.ci/run` has; the README's Tests section says so.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, statfsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import Database from 'better-sqlite3';
import t, { type Test } from 'tap';
import { MIGRATIONS } from '../../src/log/migrations.js';
import { STORE_FILE_NAME, Store, createStoreDirectory } from '../../src/log/store.js';
import { runRelayToExit, startRelay, type RelayProcess } from '../support/relay-process.js';

const DISK_MIB = 8;
const FILLER_BYTES = 2 * 1024 * 1024;
const LINES_PER_WRITE = 50;
// Consecutive refusals that end a run of writes: the store is full, not momentarily busy.
const REFUSALS_TO_STOP = 3;

/** A tmpfs of its own, unmounted at the end of the test (lazily: the relay may still hold files). */
function mountDisk(t: Test, options: string[] = []): string {
  const dir = mkdtempSync(join(tmpdir(), 'certrelay-disk-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', [`size=${DISK_MIB}m`, ...options].join(','), 'tmpfs', dir], { stdio: 'pipe' });
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`this test fills a real disk, a ${DISK_MIB} MiB tmpfs it mounts itself; mounting needs root (CAP_SYS_ADMIN): ${String(err)}`);
  }
  t.teardown(() => {
    execFileSync('umount', ['-l', dir]);
    rmSync(dir, { recursive: true, force: true });
  });
  return dir;
}

/** Fills what is left of the disk with a file, until ENOSPC. */
function fillTheRest(path: string): void {
  const chunk = Buffer.alloc(64 * 1024);
  let written = Buffer.alloc(0);
  for (;;) {
    try {
      written = Buffer.concat([written, chunk]);
      writeFileSync(path, written);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOSPC') return;
      throw err;
    }
  }
}

interface Refusal {
  readonly status: number;
  readonly retryAfter: string | null;
  readonly body: string;
}

interface WriteRun {
  readonly acked: number[];
  readonly refusals: Refusal[];
  readonly nextId: number;
}

/** 50-line writes, one at a time, numbered from firstId, until REFUSALS_TO_STOP refusals in a row. */
async function writeUntilRefused(relay: RelayProcess, firstId: number): Promise<WriteRun> {
  const acked: number[] = [];
  const refusals: Refusal[] = [];
  let id = firstId;
  let inARow = 0;
  while (inARow < REFUSALS_TO_STOP) {
    const ids = Array.from({ length: LINES_PER_WRITE }, (_, i) => id + i);
    id += LINES_PER_WRITE;
    const body = ids.map((n) => `fill,host=h${n % 7} id=${n}i,pad="${'p'.repeat(200)}" ${1_700_000_000_000_000_000n + BigInt(n)}`).join('\n');
    const res = await fetch(`${relay.url}/write?db=telegraf`, { method: 'POST', body });
    const text = await res.text();
    if (res.status === 204) {
      acked.push(...ids);
      inARow = 0;
    } else {
      refusals.push({ status: res.status, retryAfter: res.headers.get('retry-after'), body: text });
      inARow++;
    }
  }
  return { acked, refusals, nextId: id };
}

function storedIds(dir: string): Set<number> {
  const store = Store.open({ dir, maxBytes: Infinity });
  try {
    const ids = new Set<number>();
    for (const batch of store.readBatchesAfter(0, 1_000_000)) {
      for (const match of batch.lines.matchAll(/ id=(\d+)i/g)) ids.add(Number(match[1]));
    }
    return ids;
  } finally {
    store.close();
  }
}

function logLines(relay: RelayProcess): Array<Record<string, unknown>> {
  return relay
    .stdout()
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

function checkAllStored(t: Test, storeDir: string, acked: readonly number[]): void {
  const stored = storedIds(storeDir);
  const missing = acked.filter((id) => !stored.has(id));
  t.same(missing, [], `all ${acked.length} acknowledged points are in the store (${stored.size} stored)`);
  t.equal(stored.size, acked.length, 'and no point that was refused');
}

function checkRefusals(t: Test, refusals: readonly Refusal[]): void {
  t.ok(refusals.length >= REFUSALS_TO_STOP, `writes were refused (${refusals.length})`);
  t.same(
    [...new Set(refusals.map((r) => `${r.status} Retry-After: ${r.retryAfter}`))],
    ['503 Retry-After: 30'],
    'every refusal is 503 with Retry-After, none a 500',
  );
  t.match(JSON.parse(refusals[0].body), { error: /store is full .*disk is short of space/ }, 'the body says why');
}

interface FilledDisk {
  readonly disk: string;
  readonly storeDir: string;
  readonly filler: string;
  readonly relay: RelayProcess;
  readonly run: WriteRun;
  /** The warning-level log lines of the run. */
  readonly warnings: Array<Record<string, unknown>>;
}

/** A disk with a filler file and a relay on it with this reserve, written to until it refuses; the common checks made. */
async function fillDisk(t: Test, minFreeBytes: string): Promise<FilledDisk> {
  const disk = mountDisk(t);
  const storeDir = join(disk, 'store');
  const filler = join(disk, 'other-data');
  writeFileSync(filler, Buffer.alloc(FILLER_BYTES));
  const relay = await startRelay(t, { storeDir, env: { CERTRELAY_STORE_MIN_FREE_BYTES: minFreeBytes } });
  const run = await writeUntilRefused(relay, 0);
  t.ok(run.acked.length > 0, `${run.acked.length} points acknowledged before the disk ran short`);
  checkRefusals(t, run.refusals);
  const warnings = logLines(relay).filter((line) => line.level === 40);
  t.equal(warnings.length, 1, 'one warning for the whole run of refusals');
  return { disk, storeDir, filler, relay, run, warnings };
}

t.test('the relay stops at store.min_free_bytes, says so, and takes writes again once space is freed', async (t) => {
  const { storeDir, filler, relay, run: first, warnings } = await fillDisk(t, '2MiB');
  t.match(warnings[0], { reason: 'disk_space', minFreeBytes: 2 * 1024 * 1024, msg: /store full .*store\.min_free_bytes/ });
  t.ok((warnings[0].diskFreeBytes as number) < 2 * 1024 * 1024, `the warning gives the free space (${String(warnings[0].diskFreeBytes)} bytes)`);

  const ready = await fetch(`${relay.url}/ready`);
  t.equal(ready.status, 503, '/ready is 503 while the disk is short');
  t.match(await ready.json(), { message: 'store is full (disk space)' });
  const health = (await (await fetch(`${relay.url}/health`)).json()) as { checks: unknown[] };
  t.match(health.checks, [{ name: 'store', status: 'fail', message: /disk has \d+ bytes free, less than store\.min_free_bytes/ }]);
  const metrics = await (await fetch(`${relay.url}/metrics`)).text();
  t.match(metrics, /^certrelay_store_full\{reason="disk_space"\} 1$/m);
  t.match(metrics, /^certrelay_store_full\{reason="max_bytes"\} 0$/m);
  t.match(metrics, /^certrelay_store_disk_free_bytes \d+$/m);

  rmSync(filler);
  const deadline = Date.now() + 5_000;
  while ((await fetch(`${relay.url}/ready`)).status !== 200) {
    if (Date.now() > deadline) throw new Error('/ready did not turn 200 within 5 s of the filler being deleted');
    await sleep(50);
  }
  t.pass('/ready is 200 once the filler is gone');
  const second = await writeUntilRefused(relay, first.nextId);
  t.ok(second.acked.length > 0, `${second.acked.length} more points acknowledged after the space was freed`);
  t.match(
    logLines(relay).find((line) => line.msg === 'store accepts writes again (it was full)'),
    { level: 30, refusedWrites: first.refusals.length },
    'the log says when writes are taken again, and how many were refused',
  );

  t.equal((await relay.stop()).code, 0);
  checkAllStored(t, storeDir, [...first.acked, ...second.acked]);
});

t.test('without a reserve SQLite meets ENOSPC itself: 503s, a clear start-up error, and nothing acknowledged lost', async (t) => {
  const { disk, storeDir, filler, relay, run, warnings } = await fillDisk(t, '0');
  t.match(warnings[0], { reason: 'disk_space', detail: /the disk holding the store .* is full/ });
  t.equal((await relay.stop()).code, 0, 'a stop on a full disk is still a clean stop');

  fillTheRest(join(disk, 'more-data'));
  const refused = await runRelayToExit({ env: { CERTRELAY_STORE_PATH: storeDir, CERTRELAY_LISTEN: '127.0.0.1:0' } });
  t.equal(refused.code, 1, 'the relay does not start on a full disk');
  t.match(refused.stderr, /^certrelay: cannot open the store in .* \(store\.path\): .*\(SQLITE_FULL\): free space on its disk, then start again\n$/);

  rmSync(filler);
  rmSync(join(disk, 'more-data'));
  const again = await startRelay(t, { storeDir });
  t.equal((await again.stop()).code, 0, 'it starts once there is room');
  checkAllStored(t, storeDir, run.acked);
});

t.test('a store on a read-only file system is refused in one line', async (t) => {
  const disk = mountDisk(t, ['ro']);
  const run = await runRelayToExit({ env: { CERTRELAY_STORE_PATH: join(disk, 'store'), CERTRELAY_LISTEN: '127.0.0.1:0' } });
  t.equal(run.code, 1);
  t.match(run.stderr, /^certrelay: cannot open the store in .* \(store\.path\): EROFS: .*: the file system is read-only\n$/);
});

t.test('an upgrade on a full disk: the migration is refused in one line, the store keeps its version, and upgrades once there is room', async (t) => {
  const disk = mountDisk(t);
  const storeDir = join(disk, 'store');
  createStoreDirectory(storeDir);
  const schemaVersion = (): number => {
    const db = new Database(join(storeDir, STORE_FILE_NAME), { readonly: true });
    try {
      return db.pragma('user_version', { simple: true }) as number;
    } finally {
      db.close();
    }
  };
  // A store as a relay of schema 3 (before renewal monitoring) left it.
  const old = new Database(join(storeDir, STORE_FILE_NAME));
  old.pragma('journal_mode = WAL');
  for (const step of MIGRATIONS.slice(0, 3)) old.exec(step.sql);
  old.pragma('user_version = 3');
  old.close();
  // Room for SQLite's shared-memory file (32 KiB), not for migration 4's pages.
  const filler = join(disk, 'filler');
  const { bavail, bsize } = statfsSync(disk);
  writeFileSync(filler, Buffer.alloc(bavail * bsize - 48 * 1024));

  const refused = await runRelayToExit({ env: { CERTRELAY_STORE_PATH: storeDir, CERTRELAY_LISTEN: '127.0.0.1:0' } });
  t.equal(refused.code, 1);
  t.match(
    refused.stderr,
    /^certrelay: cannot open the store in .* \(store\.path\): .*schema migration 4 \(.*\) failed: .*\(SQLITE_FULL\): free space on its disk, then start again\n$/,
  );

  rmSync(filler);
  t.equal(schemaVersion(), 3, 'the failed step left nothing');
  const again = await startRelay(t, { storeDir });
  t.equal((await again.stop()).code, 0, 'it starts once there is room');
  t.equal(schemaVersion(), MIGRATIONS.length, 'and upgrades the store');
});

t.test('a disk without room for the shared-memory file is named as full, not as an I/O error to look for in dmesg', async (t) => {
  const disk = mountDisk(t);
  const storeDir = join(disk, 'store');
  Store.open({ dir: storeDir, maxBytes: 64 * 1024 * 1024 }).close();
  // Less than the 32 KiB of certrelay.db-shm, which a clean stop deletes and the next start creates.
  const filler = join(disk, 'filler');
  const { bavail, bsize } = statfsSync(disk);
  writeFileSync(filler, Buffer.alloc(bavail * bsize - 16 * 1024));

  const refused = await runRelayToExit({ env: { CERTRELAY_STORE_PATH: storeDir, CERTRELAY_LISTEN: '127.0.0.1:0' } });
  t.equal(refused.code, 1);
  t.match(refused.stderr, /^certrelay: cannot open the store in .* \(store\.path\): .*\(SQLITE_IOERR_SHMSIZE\): no room for .*free space on its disk, then start again\n$/);

  rmSync(filler);
  const again = await startRelay(t, { storeDir });
  t.equal((await again.stop()).code, 0, 'it starts once there is room');
});
