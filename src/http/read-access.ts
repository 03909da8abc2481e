// auth.protect_reads: the web page, its assets, /api/v1/renewals and /metrics
// ask for a token as the writes do (header, or ?p=). A token with access = "write" may not. The 401
// carries WWW-Authenticate: Basic, so a browser asks for it (any user name, the
// token as password), and sends it again with each request of the page.
// Routes that check a stricter token themselves (retire, snooze) are left to that
// check, so that its refusal, not this one's, says what token they need.
import type { FastifyInstance } from 'fastify';
import { RelayError } from '../errors.js';
import type { Authorizer } from './auth.js';
import { firstValue, type QueryValue } from './query-param.js';

const READ_CHALLENGE = 'Basic realm="certrelay", charset="UTF-8"';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The handler authorizes the request itself, more strictly than a read. */
    checksItsOwnToken?: boolean;
  }
}

/** Route config of a route in the reads' scope that authorizes requests itself. */
export const CHECKS_ITS_OWN_TOKEN = { checksItsOwnToken: true } as const;

export function protectReads(app: FastifyInstance, authorizer: Authorizer): void {
  app.addHook('onRequest', (request, reply, done) => {
    if (request.routeOptions.config?.checksItsOwnToken === true) {
      done();
      return;
    }
    let refusal: RelayError | undefined;
    try {
      // ?p= too, as on /write: the retire and snooze actions behind this check take it (openapi.yaml).
      const queryPassword = firstValue((request.query as Record<string, QueryValue> | undefined)?.p);
      if (!authorizer.authenticate({ authorization: request.headers.authorization, queryPassword }).mayRead) {
        refusal = new RelayError('CR_WRITE_ONLY_TOKEN');
      }
    } catch {
      refusal = new RelayError('CR_READ_UNAUTHORIZED');
    }
    if (refusal !== undefined) {
      // 401 with the challenge in both cases, so a browser asks again for another token.
      reply.header('WWW-Authenticate', READ_CHALLENGE);
      done(refusal);
      return;
    }
    done();
  });
}
