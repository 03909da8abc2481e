// POST /api/v2/write: InfluxDB 2.x semantics. A parse error anywhere rejects
// the whole body (400); points that parse but break the schema are dropped and
// the rest kept (422).
import type { FastifyInstance } from 'fastify';
import { RelayError } from '../errors.js';
import { sendError } from '../http/error-reply.js';
import { firstValue, type QueryValue } from '../http/query-param.js';
import { parsePrecisionV2, V2_PRECISIONS } from '../line-protocol/precision.js';
import { receiveWrite } from './receive-write.js';
import type { WriteRouteDeps } from './write-v1.js';
import { parseErrorText, refusedText } from './write-response.js';

interface V2Query {
  bucket?: QueryValue;
  precision?: QueryValue;
}

/** A 2.x bucket "db/rp" is 1.x database db with retention policy rp (InfluxDB's DBRP mapping). */
export function bucketToDestination(bucket: string): { db: string; rp: string } {
  const slash = bucket.indexOf('/');
  return slash < 0 ? { db: bucket, rp: '' } : { db: bucket.slice(0, slash), rp: bucket.slice(slash + 1) };
}

export function registerWriteV2(app: FastifyInstance, deps: WriteRouteDeps): void {
  app.post<{ Querystring: V2Query }>('/api/v2/write', { config: { api: 'v2' } }, async (request, reply) => {
    const { query } = request;
    // org / orgID are not needed: a bucket names the database and retention policy. InfluxDB 1.8's
    // /api/v2/write ignores them too, and its client example passes an empty org.
    const bucket = firstValue(query.bucket);
    const precisionParam = firstValue(query.precision);
    const grant = deps.authorizer.authenticate({ authorization: request.headers.authorization });
    if (bucket === undefined || bucket === '') throw new RelayError('CR_BUCKET_REQUIRED');
    const destination = bucketToDestination(bucket);
    // influxd's bucket2dbrp refuses it too: a line for database "" could never be delivered.
    if (destination.db === '') throw new RelayError('CR_BUCKET_EMPTY_DATABASE', JSON.stringify(bucket));
    grant.assertMayWrite(destination.db);
    const precision = parsePrecisionV2(precisionParam);
    if (precision === undefined) throw new RelayError('CR_BAD_PRECISION', JSON.stringify(precisionParam), V2_PRECISIONS.join(', '));
    deps.intake.assertAccepting();

    const prepared = await receiveWrite(deps, request, reply, 'v2', destination, precision, { allOrNothingOnParseError: true });
    deps.onDatabase(destination.db);

    if (prepared.parseErrorCount > 0) return sendError(reply, 'v2', 400, parseErrorText(prepared));
    const refused = refusedText(prepared);
    if (refused !== undefined) return sendError(reply, 'v2', 422, `partial write: ${refused.text} dropped=${refused.dropped}`);
    return reply.code(204).send();
  });
}
