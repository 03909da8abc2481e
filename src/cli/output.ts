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
