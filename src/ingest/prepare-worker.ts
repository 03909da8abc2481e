// A prepare worker thread: answers each { id, job } (a write body) or
// { id, round } (a forwarding round) from the pool with { id, result } or
// { id, error }. Loaded by PreparePool, never imported.
import { parentPort } from 'node:worker_threads';
import { buildRound, transferables, type RoundJob } from '../forward/round-job.js';
import { prepareBodyMessage, type PrepareJob } from './prepare-job.js';

export type WorkerRequest = { readonly id: number; readonly job: PrepareJob; readonly round?: undefined } | { readonly id: number; readonly round: RoundJob; readonly job?: undefined };

const port = parentPort;
if (port === null) throw new Error('prepare-worker must run in a worker thread');
port.on('message', ({ id, job, round }: WorkerRequest) => {
  try {
    if (round !== undefined) {
      const built = buildRound(round);
      port.postMessage({ id, result: built }, transferables(built.flat().flatMap((r) => [r.body, r.compressed])));
      return;
    }
    const prepared = prepareBodyMessage(job);
    // Bytes go back transferred, not copied: the body's own (stored as received), or the joined
    // lines encoded here, which spares the main thread a clone of the string and its UTF-8 encoding.
    const stored = typeof prepared.stored === 'string' ? Buffer.from(prepared.stored, 'utf8') : prepared.stored;
    const result = { ...prepared, stored };
    port.postMessage({ id, result }, stored === prepared.stored ? [stored.buffer as ArrayBuffer] : transferables([stored]));
  } catch (err) {
    port.postMessage({ id, error: err instanceof Error ? err.message : String(err) });
  }
});
