// auth.protect_reads: the web page, its assets, /api/v1/renewals and /metrics
// ask for a token as the writes do. Any configured token may read. The 401
// carries WWW-Authenticate: Basic, so a browser asks for it (any user name, the
// token as password), and sends it again with each request of the page.
import type { FastifyInstance } from 'fastify';
import { RelayError } from '../errors.js';
import type { Authorizer } from './auth.js';

const READ_CHALLENGE = 'Basic realm="certrelay", charset="UTF-8"';

export function protectReads(app: FastifyInstance, authorizer: Authorizer): void {
  app.addHook('onRequest', (request, reply, done) => {
    try {
      authorizer.authenticate({ authorization: request.headers.authorization });
    } catch {
      reply.header('WWW-Authenticate', READ_CHALLENGE);
      done(new RelayError('CR_READ_UNAUTHORIZED'));
      return;
    }
    done();
  });
}
