// /query answers only what write clients send at start-up: Telegraf's 1.x
// output, the python, node and ruby clients issue CREATE DATABASE (by POST
// form, POST query string or GET); some list databases. Always JSON, even
// when msgpack is asked for. Any other statement gets a clear error inside
// a 200, the way influxd reports a statement it cannot run: a 5xx would make
// node-influx take the host out of service, writes included, for seconds.
import type { FastifyInstance, FastifyReply } from 'fastify';
import { RelayError } from '../errors.js';
import { acceptAnyContentType } from './any-content-type.js';
import type { Authorizer } from './auth.js';
import { sendRelayError } from './error-reply.js';
import { firstValue, type QueryValue } from './query-param.js';
import { refuseWebPages } from './same-site.js';

/** Most names kept for SHOW DATABASES. */
export const KNOWN_DATABASES_MAX = 10_000;

/**
 * What SHOW DATABASES lists: the databases the store holds writes for, and those
 * written to or created since the start. Bounded, as CREATE DATABASE would
 * otherwise let a client grow it for ever.
 */
export class KnownDatabases {
  readonly #names = new Set<string>();

  constructor(stored: Iterable<string> = []) {
    for (const name of stored) this.remember(name);
  }

  /** False when the name is new and no more can be kept. */
  remember(name: string): boolean {
    if (this.#names.size >= KNOWN_DATABASES_MAX && !this.#names.has(name)) return false;
    this.#names.add(name);
    return true;
  }

  sorted(): string[] {
    return [...this.#names].sort();
  }
}

export interface QueryDeps {
  readonly authorizer: Authorizer;
  readonly databases: KnownDatabases;
}

const CREATE_DATABASE = /^\s*CREATE\s+DATABASE\s+("(?:[^"\\]|\\.)+"|[^\s;]+)(\s+WITH\s+.*)?\s*$/is;
const SHOW_DATABASES = /^\s*SHOW\s+DATABASES\s*$/i;

/** Splits on semicolons outside double or single quotes. */
export function splitStatements(q: string): string[] {
  const out: string[] = [];
  let current = '';
  let quote: string | undefined;
  for (let i = 0; i < q.length; i++) {
    const ch = q[i];
    if (quote !== undefined) {
      if (ch === '\\' && i + 1 < q.length) {
        current += ch + q[++i];
        continue;
      }
      if (ch === quote) quote = undefined;
    } else if (ch === '"' || ch === "'") {
      quote = ch;
    } else if (ch === ';') {
      if (current.trim() !== '') out.push(current);
      current = '';
      continue;
    }
    current += ch;
  }
  if (current.trim() !== '') out.push(current);
  return out;
}

// influxd's meta.ValidName: Go's unicode.IsPrint allows the ASCII space but no other separator or control.
const NOT_PRINTABLE = /(?! )[\p{C}\p{Z}]/u;

/** Whether influxd would create this database: it answers "invalid name" to any other, so nothing written there could be delivered. */
export function isValidDatabaseName(name: string): boolean {
  if (name === '' || name === '.' || name === '..' || name.includes('/') || name.includes('\\')) return false;
  return !NOT_PRINTABLE.test(name);
}

function unquoteIdentifier(name: string): string {
  // InfluxQL's escapes in a quoted identifier: \n is a newline, any other \c is c.
  return name.startsWith('"') ? name.slice(1, -1).replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c)) : name;
}

export function registerQueryStub(app: FastifyInstance, deps: QueryDeps): void {
  app.register(async (scope) => {
    acceptAnyContentType(scope, { parseAs: 'string', bodyLimit: 1024 * 1024 });
    refuseWebPages(scope);

    const handle = async (query: Record<string, QueryValue>, body: unknown, headers: { authorization?: string }, reply: FastifyReply) => {
      const form = typeof body === 'string' && body !== '' ? new URLSearchParams(body) : undefined;
      const q = firstValue(query.q) ?? form?.get('q') ?? undefined;
      try {
        const grant = deps.authorizer.authenticate({ authorization: headers.authorization, queryPassword: firstValue(query.p) ?? form?.get('p') ?? undefined });
        if (q === undefined || q.trim() === '') throw new RelayError('CR_QUERY_MISSING');
        let failed = false;
        const results = splitStatements(q).map((statement, statementId) => {
          // As influxd: after a statement fails, the ones after it are not run.
          if (failed) return { statement_id: statementId, error: 'not executed' };
          const create = CREATE_DATABASE.exec(statement);
          if (create) {
            const name = unquoteIdentifier(create[1]);
            // A token limited to some databases may create (and so list) only those, as it may write only to them.
            grant.assertMayWrite(name);
            if (!isValidDatabaseName(name)) {
              failed = true;
              return { statement_id: statementId, error: 'invalid name' };
            }
            if (!deps.databases.remember(name)) {
              failed = true;
              return { statement_id: statementId, error: `too many databases: the relay keeps at most ${KNOWN_DATABASES_MAX} names for SHOW DATABASES` };
            }
            return { statement_id: statementId };
          }
          if (SHOW_DATABASES.test(statement)) {
            const values = deps.databases.sorted().filter((name) => grant.mayWrite(name)).map((name) => [name]);
            return { statement_id: statementId, series: [{ name: 'databases', columns: ['name'], values }] };
          }
          failed = true;
          return { statement_id: statementId, error: new RelayError('CR_QUERY_UNSUPPORTED', JSON.stringify(statement.trim())).message };
        });
        return reply.code(200).type('application/json').send({ results });
      } catch (err) {
        if (err instanceof RelayError) return sendRelayError(reply, 'v1', err);
        throw err;
      }
    };

    scope.get<{ Querystring: Record<string, QueryValue> }>('/query', { config: { api: 'v1' } }, (request, reply) =>
      handle(request.query, undefined, request.headers, reply),
    );
    scope.post<{ Querystring: Record<string, QueryValue> }>('/query', { config: { api: 'v1' } }, (request, reply) =>
      handle(request.query, request.body, request.headers, reply),
    );
  });
}
