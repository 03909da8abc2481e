// Write load at a steady pace, for tests that run for tens of seconds against
// real servers (outage, independence): concurrent keep-alive clients, each
// sending one request per interval to whatever URL the relay has right now
// (a restarted relay listens on a new port), and a record of every request and
// how it ended. Same record as test/fixtures/write-load.ts, which sends
// back-to-back and to one URL.
import { Agent } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { sendWrite, type SentWrite } from '../fixtures/write-load.js';

export type NextWrite = Omit<SentWrite, 'sentAtMs' | 'writer'>;

export interface PacedWritersOptions {
  /** The relay's base URL at the time of each request. */
  readonly url: () => string;
  readonly clients: number;
  /** The next request of a writer. */
  readonly next: (writer: number) => NextWrite;
  /** Every request, in send order; outcomes are filled in as they arrive. */
  readonly record: SentWrite[];
  /** From the start of one request of a writer to the start of its next; a slow answer delays the next. */
  readonly intervalMs: number;
  /** Asked before each request; true ends that writer. */
  readonly stop: () => boolean;
  /** A request without an answer after this long is recorded as error "TIMEOUT". */
  readonly requestTimeoutMs?: number;
  /** Called when a request has its outcome. */
  readonly onAnswer?: (write: SentWrite) => void;
}

export async function runPacedWriters(opts: PacedWritersOptions): Promise<void> {
  await Promise.all(Array.from({ length: opts.clients }, (_, index) => writer(opts, index)));
}

async function writer(opts: PacedWritersOptions, index: number): Promise<void> {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  // Writers start spread over one interval, not all in the same millisecond.
  await sleep((opts.intervalMs * index) / opts.clients);
  try {
    while (!opts.stop()) {
      const startedAt = performance.now();
      const write: SentWrite = { ...opts.next(index), writer: index, sentAtMs: startedAt };
      opts.record.push(write);
      await sendWrite(opts.url(), agent, write, opts.requestTimeoutMs ?? 10_000);
      opts.onAnswer?.(write);
      const rest = opts.intervalMs - (performance.now() - startedAt);
      if (rest > 0) await sleep(rest);
    }
  } finally {
    agent.destroy();
  }
}

/** Requests by outcome: "204", "503", "ECONNREFUSED", … */
export function outcomes(record: readonly SentWrite[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const w of record) {
    const key = w.status !== undefined ? String(w.status) : (w.error ?? 'no answer');
    out.set(key, (out.get(key) ?? 0) + 1);
  }
  return out;
}
