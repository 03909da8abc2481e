// Rolling back to an older certrelay on a store a newer one has upgraded: the start is refused as a
// configuration error (exit 78), which the systemd unit does not restart, instead of exit 1 and a
// restart every 2 seconds that can never succeed.
import { join } from 'node:path';
import Database from 'better-sqlite3';
import t from 'tap';
import { MIGRATIONS } from '../../src/log/migrations.js';
import { STORE_FILE_NAME, Store } from '../../src/log/store.js';
import { runRelayToExit } from '../support/relay-process.js';

t.test('a store written by a newer certrelay stops the start with exit 78 and one line, and stays as it was', async (t) => {
  const storeDir = join(t.testdir({}), 'store');
  Store.open({ dir: storeDir, maxBytes: 64 * 1024 * 1024 }).close();
  const newer = MIGRATIONS.length + 1;
  const db = new Database(join(storeDir, STORE_FILE_NAME));
  db.pragma(`user_version = ${newer}`);
  db.close();

  const run = await runRelayToExit({ env: { CERTRELAY_STORE_PATH: storeDir, CERTRELAY_LISTEN: '127.0.0.1:0' } });
  t.equal(run.code, 78, 'not restarted by Restart=on-failure (RestartPreventExitStatus=78)');
  t.match(run.stderr, new RegExp(`^certrelay: .*schema version ${newer}.*written by a newer certrelay.*\\n$`));
  t.notMatch(run.stderr, /\n\s+at /, 'no stack trace');
  const after = new Database(join(storeDir, STORE_FILE_NAME), { readonly: true });
  t.equal(after.pragma('user_version', { simple: true }), newer);
  after.close();
});
