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
    const result = prepareBodyMessage(job);
    // Stored as the body's own bytes: the body's buffer goes back, not a copy.
    const transfer = typeof result.stored === 'string' ? [] : [result.stored.buffer as ArrayBuffer];
    port.postMessage({ id, result }, transfer);
  } catch (err) {
    port.postMessage({ id, error: err instanceof Error ? err.message : String(err) });
  }
});
