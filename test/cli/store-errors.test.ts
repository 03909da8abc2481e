// The store's refusals a command meets after opening it are one line saying what to do.
import t from 'tap';
import { storeProblem } from '../../src/cli/store-errors.js';
import { StoreFullError } from '../../src/log/store.js';

const sqliteError = (code: string, message: string) => Object.assign(new Error(message), { code });

t.test('a store this user may read but not write points at the relay user', async (t) => {
  t.equal(
    storeProblem(sqliteError('SQLITE_READONLY', 'attempt to write a readonly database'), '/var/lib/certrelay/certrelay.db'),
    'cannot use the store /var/lib/certrelay/certrelay.db: attempt to write a readonly database (SQLITE_READONLY): ' +
      'this user may read the store but not write it; run the command as the user the relay runs as',
  );
});

t.test('extended codes get their primary code’s advice', async (t) => {
  t.match(storeProblem(sqliteError('SQLITE_READONLY_DBMOVED', 'x'), 'f'), /run the command as the user the relay runs as$/);
  t.match(storeProblem(sqliteError('SQLITE_IOERR_WRITE', 'disk I/O error'), 'f'), /check it \(dmesg\)/);
  t.match(storeProblem(sqliteError('SQLITE_BUSY', 'database is locked'), 'f'), /run the command again$/);
});

t.test('any other error is left to keep its stack trace (a bug)', async (t) => {
  t.equal(storeProblem(new TypeError('x is undefined'), 'f'), undefined);
  t.equal(storeProblem(sqliteError('SQLITE_CONSTRAINT_UNIQUE', 'UNIQUE constraint failed'), 'f'), undefined);
  t.equal(storeProblem(sqliteError('ENOENT', 'no such file'), 'f'), undefined);
});

t.test('a store too full for a replay says so with its limit, not with a stack trace', async (t) => {
  const full = new StoreFullError('the store /var/lib/certrelay/certrelay.db is full (6381568 bytes in use, store.max_bytes = 4000000): …');
  t.equal(
    storeProblem(full, 'f'),
    'the store /var/lib/certrelay/certrelay.db is full (6381568 bytes in use, store.max_bytes = 4000000): … ' +
      "Nothing of the command's last step was written; certrelay dead-letters purge frees room.",
  );
});
