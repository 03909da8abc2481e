// Routes that read their body whatever its Content-Type, as influxd does. Fastify
// answers 415 to a header it cannot parse as a media type before any parser is
// asked, and the official Go client sends `Content-Type: ""` on every write and
// query; so a present header is replaced by one that always parses, and one
// catch-all parser hands the body over as given.
import type { FastifyInstance, FastifyRequest } from 'fastify';

const ANY_BODY = 'application/octet-stream';

interface BodyOptions {
  /** 'string': the body as UTF-8 text, up to bodyLimit bytes. Otherwise the request stream, for the route to read. */
  readonly parseAs?: 'string';
  readonly bodyLimit?: number;
}

export function acceptAnyContentType(scope: FastifyInstance, options: BodyOptions = {}): void {
  scope.addHook('onRequest', (request: FastifyRequest, _reply, done) => {
    if (request.headers['content-type'] !== undefined) request.headers['content-type'] = ANY_BODY;
    done();
  });
  scope.removeAllContentTypeParsers();
  if (options.parseAs === 'string') {
    scope.addContentTypeParser('*', { parseAs: 'string', bodyLimit: options.bodyLimit }, (_request, body, done) => done(null, body));
  } else {
    scope.addContentTypeParser('*', (_request, payload, done) => done(null, payload));
  }
}
