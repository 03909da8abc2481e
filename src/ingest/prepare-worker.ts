// A prepare worker thread: answers each { id, job } from the pool with
// { id, result } or { id, error }. Loaded by PreparePool, never imported.
import { parentPort } from 'node:worker_threads';
import { prepareBodyMessage, type PrepareJob } from './prepare-job.js';

export interface PrepareRequest {
  readonly id: number;
  readonly job: PrepareJob;
}

const port = parentPort;
if (port === null) throw new Error('prepare-worker must run in a worker thread');
port.on('message', ({ id, job }: PrepareRequest) => {
  try {
    const result = prepareBodyMessage(job);
    // Stored as the body's own bytes: the body's buffer goes back, not a copy.
    const transfer = typeof result.stored === 'string' ? [] : [result.stored.buffer as ArrayBuffer];
    port.postMessage({ id, result }, transfer);
  } catch (err) {
    port.postMessage({ id, error: err instanceof Error ? err.message : String(err) });
  }
});
