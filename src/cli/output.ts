// Where the commands write, and how they fail: everything a command touches of
// the process, passed in, so the same code runs under main.ts and in tests.
import type { ProgressStream } from './progress.js';

export interface CliIo {
  readonly stdout: { write(text: string): unknown };
  /** Errors, warnings and the progress bar. */
  readonly stderr: ProgressStream;
  readonly env: Record<string, string | undefined>;
  readonly nowMs: () => number;
  /** Aborted on SIGINT: a waiting command stops waiting and says what is left. */
  readonly interrupted?: AbortSignal;
}

/** The exit codes, as documented in docs/operations.md. */
export const EXIT = {
  ok: 0,
  /** The operation failed or did not finish (replay timed out, lines refused again, no such dead letter). */
  failed: 1,
  usage: 2,
  /** sysexits.h EX_CONFIG, as the relay itself uses. */
  config: 78,
  /** 128 + SIGINT, as shells report it. */
  interrupted: 130,
} as const;

/** The operation cannot be done or did not succeed; the message says what to do. Exit code 1. */
export class CommandFailed extends Error {
  override readonly name = 'CommandFailed';
}

export function writeJson(io: CliIo, value: unknown): void {
  io.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/**
 * writeJson of `{ [key]: [...items] }`, byte for byte, written an item at a time: a store's worth of dead
 * letters made one string longer than V8 allows ("Invalid string length" at 600 MB).
 */
export function writeJsonList<T>(io: CliIo, key: string, items: Iterable<T>, toJson: (item: T) => unknown): void {
  let first = true;
  for (const item of items) {
    // JSON escapes the newlines inside strings: every newline here is between two of the item's own lines.
    const indented = JSON.stringify(toJson(item), null, 2).replace(/\n/g, '\n    ');
    io.stdout.write(`${first ? `{\n  ${JSON.stringify(key)}: [\n` : ',\n'}    ${indented}`);
    first = false;
  }
  io.stdout.write(first ? `{\n  ${JSON.stringify(key)}: []\n}\n` : '\n  ]\n}\n');
}
