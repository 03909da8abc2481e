// What /write and /api/v2/write do between checking a request's headers and answering it: read the
// body within the budgets (asking for it only now, under Expect: 100-continue), wait for the writes
// before it on its connection, then prepare and commit it.
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Readable } from 'node:stream';
import type { Precision } from '../line-protocol/precision.js';
import type { Endpoint } from '../ops/metrics.js';
import type { Destination, WriteOptions, WriteOutcome } from './intake.js';
import { readBody } from './read-body.js';
import type { WriteRouteDeps } from './write-v1.js';

export async function receiveWrite(
  deps: WriteRouteDeps,
  request: FastifyRequest,
  reply: FastifyReply,
  endpoint: Endpoint,
  destination: Destination,
  precision: Precision,
  options: WriteOptions,
): Promise<WriteOutcome> {
  const reservation = deps.bodyBudget.open();
  try {
    const body = await readBody(request.body as Readable | undefined, request.headers, {
      maxBytes: deps.maxBodyBytes,
      reservation,
      beforeReading: () => deps.expectContinue?.proceed(request.raw, reply.raw),
    });
    await deps.answersInFlight?.turnOf(request.raw);
    return await deps.intake.write(endpoint, destination, body, precision, options);
  } finally {
    reservation.release();
  }
}
