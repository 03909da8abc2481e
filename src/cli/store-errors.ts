// What an operator is told when SQLite refuses a command's work on an open store:
// the running relay kept it busy past the busy timeout, this user may read the
// store but not write it, or it is full. One line, saying what to do, as every CLI error; not a stack trace.
import { isStoreFullError } from '../log/store.js';

const ADVICE: Readonly<Record<string, string>> = {
  SQLITE_BUSY:
    'the store stayed busy past the 5 s busy timeout (the running relay, or another certrelay command, was writing to it). ' +
    'What was done before stays done; run the command again',
  SQLITE_LOCKED: 'the store is locked by another connection of this process; run the command again',
  SQLITE_READONLY: 'this user may read the store but not write it; run the command as the user the relay runs as',
  SQLITE_PERM: 'this user may not write to the store; run the command as the user the relay runs as',
  SQLITE_FULL: 'the store is full (store.max_bytes or its disk): free space, or let the relay deliver its backlog, then run the command again',
  SQLITE_IOERR: 'the disk reported an I/O error; check it (dmesg), then run the command again',
};

/** The one-line explanation of a SQLite error raised by a command, or undefined for any other error (a bug keeps its stack). */
export function storeProblem(err: unknown, file: string): string | undefined {
  // A replay needs room for a chunk of its lines: the store's own message names the limit and the way out.
  if (isStoreFullError(err)) return `${err.message} Nothing of the command's last step was written; certrelay dead-letters purge frees room.`;
  const { code, message } = err as { code?: unknown; message?: unknown };
  if (typeof code !== 'string' || typeof message !== 'string' || !code.startsWith('SQLITE_')) return undefined;
  // Extended codes (SQLITE_READONLY_DBMOVED, SQLITE_IOERR_WRITE, ...) share their primary code's advice.
  const advice = ADVICE[code] ?? ADVICE[code.replace(/^(SQLITE_[A-Z]+)_.*$/, '$1')];
  if (advice === undefined) return undefined;
  return `cannot use the store ${file}: ${message} (${code}): ${advice}`;
}
