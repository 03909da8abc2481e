// Makes commits durable without the event loop waiting for the disk: the
// commit writes its WAL frames (synchronous=NORMAL, no fsync), and this syncs
// the WAL file on libuv's thread pool. One fdatasync covers every commit
// written before it started, so concurrent commits share it, and the main
// thread parses and commits the next requests meanwhile.
//
// Why a second file descriptor is enough: on Linux, fsync/fdatasync flush the
// file's dirty pages whichever descriptor wrote them (PostgreSQL's checkpointer
// relies on the same). SQLite recovers a prefix of the WAL (its frames carry
// cumulative checksums), so what a completed sync covered survives power loss.

import { closeSync, fdatasync, fstatSync, fsyncSync, openSync, statSync } from 'node:fs';
import { dirname } from 'node:path';

/**
 * Commits smaller than this are fsync'd inline, as before: for them the thread
 * pool round trip cost more than the fsync it saves the event loop (measured,
 * 1 line × 1 client: 2.2k → 1.7k req/s off-thread; 1 and 100 lines × 8 clients:
 * no change). A 5000-line commit's fsync takes ~0.35 ms, and off-thread it
 * gained ~7 % at 5000 lines × 8 clients.
 */
export const OFF_THREAD_SYNC_MIN_BYTES = 64 * 1024;

interface Waiter {
  readonly resolve: () => void;
  readonly reject: (err: unknown) => void;
}

export class WalSync {
  readonly #walFile: string;
  #fd: number | undefined;
  #inode = 0;
  #syncing = false;
  // Asked for while a sync was already running: that sync may have started before their commit.
  #waiting: Waiter[] = [];
  // Once an fdatasync has failed, the kernel may have dropped the dirty pages
  // and a retry could falsely succeed, so every later request fails too.
  #failure: Error | undefined;
  #closeAfterRound = false;
  #completed = 0;

  constructor(walFile: string) {
    this.#walFile = walFile;
  }

  /** Resolves once an fdatasync of the WAL that started after this call has completed. */
  request(): Promise<void> {
    if (this.#failure !== undefined) return Promise.reject(this.#failure);
    return new Promise<void>((resolve, reject) => {
      this.#waiting.push({ resolve, reject });
      if (!this.#syncing) this.#startRound();
    });
  }

  /** fdatasync calls completed so far: how many rounds the requests were shared among. */
  get completedSyncs(): number {
    return this.#completed;
  }

  /** Closes the descriptor, once the running sync (if any) has finished with it. */
  close(): void {
    if (this.#syncing) {
      this.#closeAfterRound = true;
      return;
    }
    if (this.#fd !== undefined) closeSync(this.#fd);
    this.#fd = undefined;
  }

  #startRound(): void {
    const round = this.#waiting;
    this.#waiting = [];
    let fd: number;
    try {
      fd = this.#descriptor();
    } catch (err) {
      this.#fail(round, err);
      return;
    }
    this.#syncing = true;
    fdatasync(fd, (err) => {
      this.#syncing = false;
      if (this.#closeAfterRound) {
        this.#closeAfterRound = false;
        this.close();
      }
      if (err !== null) {
        this.#fail(round, err);
        return;
      }
      this.#completed++;
      for (const w of round) w.resolve();
      if (this.#waiting.length > 0) this.#startRound();
    });
  }

  // Opened on first use (the WAL exists once the first commit is written) and
  // reopened if the path names another file: SQLite deletes the WAL only when
  // its last connection closes, so that is a safety net, not an expected path.
  #descriptor(): number {
    const onDisk = statSync(this.#walFile).ino;
    if (this.#fd !== undefined && onDisk === this.#inode) return this.#fd;
    this.close();
    const fd = openSync(this.#walFile, 'r');
    this.#fd = fd;
    this.#inode = fstatSync(fd).ino;
    // A new WAL's directory entry: SQLite syncs it on its own first sync of the
    // file, which at synchronous=NORMAL may come only with the first checkpoint.
    syncDirectory(dirname(this.#walFile));
    return fd;
  }

  #fail(round: readonly Waiter[], err: unknown): void {
    this.#failure = new Error(`syncing ${this.#walFile} failed; acknowledged writes can no longer be promised: restart certrelay`, {
      cause: err,
    });
    for (const w of [...round, ...this.#waiting]) w.reject(this.#failure);
    this.#waiting = [];
  }
}

function syncDirectory(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
