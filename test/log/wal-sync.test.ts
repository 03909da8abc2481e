import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { WalSync } from '../../src/log/wal-sync.js';

t.test('requests made while a sync runs share the next one, and each resolves only after a sync that began after it', async (t) => {
  const file = join(t.testdir(), 'certrelay.db-wal');
  writeFileSync(file, 'frames');
  const sync = new WalSync(file);
  t.teardown(() => sync.close());

  const first = sync.request(); // starts a sync at once
  const later = [sync.request(), sync.request(), sync.request()]; // that sync may predate their commits
  await first;
  t.equal(sync.completedSyncs, 1, 'the first request had a sync of its own');
  await Promise.all(later);
  t.equal(sync.completedSyncs, 2, 'the three later requests shared one more sync');

  await sync.request();
  t.equal(sync.completedSyncs, 3, 'an idle WalSync syncs at once for a new request');
});

t.test('a failed sync fails its requests and every later one, naming the file', async (t) => {
  const file = join(t.testdir(), 'missing-wal');
  const sync = new WalSync(file);
  await t.rejects(sync.request(), { message: /syncing .*missing-wal failed; acknowledged writes can no longer be promised/ });
  writeFileSync(file, 'frames');
  await t.rejects(sync.request(), /restart certrelay/, 'still refused once the file exists: the lost sync cannot be undone');
  t.equal(sync.completedSyncs, 0);
});

t.test('close waits for the running sync before closing the descriptor', async (t) => {
  const file = join(t.testdir(), 'certrelay.db-wal');
  writeFileSync(file, 'frames');
  const sync = new WalSync(file);
  const pending = sync.request();
  sync.close();
  await t.resolves(pending, 'the sync under way completes normally');
  t.equal(sync.completedSyncs, 1);
});
