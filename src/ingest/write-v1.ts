// POST /write: InfluxDB 1.x semantics. Good lines are kept even when others
// fail (partial write); the answer is exactly 204 only when every line was
// stored.
import type { FastifyInstance } from 'fastify';
import { RelayError } from '../errors.js';
import type { Authorizer } from '../http/auth.js';
import type { ExpectContinue } from '../http/expect-continue.js';
import type { AnswersInFlight } from '../http/answers-in-flight.js';
import { sendError } from '../http/error-reply.js';
import { firstValue, type QueryValue } from '../http/query-param.js';
import { parsePrecisionV1, V1_PRECISIONS } from '../line-protocol/precision.js';
import type { Intake } from './intake.js';
import type { BodyBudget } from './body-budget.js';
import { receiveWrite } from './receive-write.js';
import { parseErrorText, refusedText } from './write-response.js';

const CONSISTENCY_LEVELS = new Set(['any', 'one', 'quorum', 'all']);

export interface WriteRouteDeps {
  readonly intake: Intake;
  readonly authorizer: Authorizer;
  readonly maxBodyBytes: number;
  readonly bodyBudget: BodyBudget;
  readonly onDatabase: (db: string) => void;
  /** Keeps writes pipelined on one connection in their order; absent in tests that inject requests. */
  readonly answersInFlight?: AnswersInFlight;
  /** Says "100 Continue" only when the body is about to be read. */
  readonly expectContinue?: ExpectContinue;
}

interface V1Query {
  db?: QueryValue;
  rp?: QueryValue;
  precision?: QueryValue;
  consistency?: QueryValue;
  u?: QueryValue;
  p?: QueryValue;
}

export function registerWriteV1(app: FastifyInstance, deps: WriteRouteDeps): void {
  app.post<{ Querystring: V1Query }>('/write', { config: { api: 'v1' } }, async (request, reply) => {
    const { query } = request;
    const db = firstValue(query.db);
    const rp = firstValue(query.rp) ?? '';
    const precisionParam = firstValue(query.precision);
    const consistency = firstValue(query.consistency);
    const p = firstValue(query.p);
    const grant = deps.authorizer.authenticate({ authorization: request.headers.authorization, queryPassword: p });
    if (db === undefined || db === '') throw new RelayError('CR_DATABASE_REQUIRED');
    grant.assertMayWrite(db);
    // Accepted and ignored, as on a single influxd; checked (in any case) because influxd refuses an unknown level.
    if (consistency !== undefined && consistency !== '' && !CONSISTENCY_LEVELS.has(consistency.toLowerCase())) throw new RelayError('CR_BAD_CONSISTENCY');
    const precision = parsePrecisionV1(precisionParam);
    if (precision === undefined) throw new RelayError('CR_BAD_PRECISION', JSON.stringify(precisionParam), V1_PRECISIONS.join(', '));
    deps.intake.assertAccepting();

    const prepared = await receiveWrite(deps, request, reply, 'v1', { db, rp }, precision, { allOrNothingOnParseError: false });
    deps.onDatabase(db);

    const refused = refusedText(prepared);
    if (prepared.parseErrorCount === 0 && refused === undefined) return reply.code(204).send();
    if (prepared.accepted === 0 && refused === undefined) {
      return sendError(reply, 'v1', 400, parseErrorText(prepared));
    }
    const reasons = [prepared.parseErrorCount > 0 ? parseErrorText(prepared) : '', refused?.text ?? '']
      .filter((text) => text !== '')
      .join('\n');
    return sendError(reply, 'v1', 400, `partial write: ${reasons} dropped=${refused?.dropped ?? 0}`);
  });
}
