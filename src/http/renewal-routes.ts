// The renewals API: the at-a-glance table and the per-host daily counts
// (open, like /metrics: they name hosts and domains, nothing secret), and the
// operator actions retire / unretire / snooze / unsnooze. The actions need a
// read-write token that is not limited to databases once [[auth.tokens]] are configured;
// with no tokens (the loopback-only default) they are open, as writes are.
// Errors are {"error", "code"} from the catalog.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Clock } from '../clock.js';
import type { TokenConfig } from '../config/defaults.js';
import { RelayError } from '../errors.js';
import type { RenewalStore } from '../renewals/renewal-store.js';
import {
  dailyOverview,
  isRenewalState,
  RENEWAL_STATES,
  renewalOverview,
  renewalRow,
  type RenewalRow,
} from '../renewals/overview.js';
import { acceptAnyContentType } from './any-content-type.js';
import { Authorizer, type Credentials } from './auth.js';
import { firstValue, type QueryValue } from './query-param.js';
import { DROPPED_PAIRS } from './query-string.js';
import { CHECKS_ITS_OWN_TOKEN } from './read-access.js';
import { webPageOrigin } from './same-site.js';

export interface RenewalRouteDeps {
  readonly renewals: RenewalStore;
  readonly clock: Clock;
  readonly tokens: readonly TokenConfig[];
  /** After an action changed a certificate: the evaluator judges it at once. */
  readonly onAction?: () => void;
}

/** An action body is two names and a time: anything near this size is a mistake. */
const ACTION_BODY_LIMIT_BYTES = 16 * 1024;
const HOUR_MS = 3_600_000;
/** A snooze must end at a time ISO 8601 can write with four digits: the table shows it as one. */
const LATEST_SNOOZE_END_MS = Date.UTC(10000, 0, 1);

interface ListQuery {
  host?: unknown;
  state?: unknown;
  p?: unknown;
}

interface CertificateName {
  readonly host: string;
  readonly domain: string;
}

export function registerRenewalRoutes(app: FastifyInstance, deps: RenewalRouteDeps): void {
  const { renewals, clock } = deps;
  const assertMayAdminister = adminCheck(deps.tokens);

  app.register(async (api) => {
    // Action bodies are JSON whatever the Content-Type: `curl -d '{…}'` sends a form type.
    acceptAnyContentType(api, { parseAs: 'string', bodyLimit: ACTION_BODY_LIMIT_BYTES });
    api.setErrorHandler((err, request, reply) => {
      if (err instanceof RelayError) return reply.code(err.status).send({ error: err.message, code: err.code });
      const { statusCode, message, code } = err as { statusCode?: unknown; message?: unknown; code?: unknown };
      const status = typeof statusCode === 'number' && statusCode >= 400 ? statusCode : 500;
      if (status >= 500) request.log.error({ err }, 'renewals request failed');
      return reply.code(status).send({ error: typeof message === 'string' ? message : 'internal error', ...(typeof code === 'string' && { code }) });
    });

    api.get<{ Querystring: ListQuery }>('/api/v1/renewals', async (request) => {
      assertReadable(request.query);
      const host = optionalText(request.query.host, 'host');
      const state = optionalText(request.query.state, 'state');
      if (state !== undefined && !isRenewalState(state)) {
        throw new RelayError('CR_BAD_RENEWAL_REQUEST', `state ${JSON.stringify(state)} is not one of ${RENEWAL_STATES.join(', ')}`);
      }
      return renewalOverview(renewals, clock.nowMs(), { ...(host !== undefined && { host }), ...(state !== undefined && { state }) });
    });

    api.get<{ Querystring: ListQuery }>('/api/v1/renewals/daily', async (request) => {
      assertReadable(request.query);
      return dailyOverview(renewals, clock.nowMs(), optionalText(request.query.host, 'host'));
    });

    const action = (path: string, apply: (name: CertificateName, body: Record<string, unknown>) => boolean, logMessage: string) =>
      api.post<{ Querystring: ListQuery }>(path, { config: CHECKS_ITS_OWN_TOKEN }, async (request): Promise<RenewalRow> => {
        assertNotFromWebPage(request);
        assertMayAdminister(credentialsOf(request));
        const body = parseBody(request.body);
        const name = certificateName(body);
        if (!apply(name, body)) throw new RelayError('CR_UNKNOWN_CERTIFICATE', JSON.stringify(name.domain), JSON.stringify(name.host));
        request.log.info({ host: name.host, domain: name.domain }, logMessage);
        deps.onAction?.();
        return renewalRow(renewals.get(name.host, name.domain)!, renewals, clock.nowMs());
      });

    action('/api/v1/renewals/retire', (c) => renewals.setRetired(c.host, c.domain, true), 'certificate retired');
    action('/api/v1/renewals/unretire', (c) => renewals.setRetired(c.host, c.domain, false), 'certificate back in service');
    action('/api/v1/renewals/snooze', (c, body) => renewals.setSnooze(c.host, c.domain, snoozeUntil(body, clock.nowMs())), 'certificate snoozed');
    action('/api/v1/renewals/unsnooze', (c) => renewals.setSnooze(c.host, c.domain, undefined), 'certificate snooze lifted');
  });
}

/**
 * Throws unless the request may retire or snooze: a read-write token not limited
 * to databases. A limited or write-only token is a writer's (a certbot hook's) and
 * must not silence alerts; a read-only one is a dashboard's or a scrape's.
 */
function adminCheck(tokens: readonly TokenConfig[]): (credentials: Credentials) => void {
  if (tokens.length === 0) return () => {};
  const authorizer = new Authorizer(tokens);
  return (credentials) => {
    if (!authorizer.authenticate(credentials).isAdmin) throw new RelayError('CR_ADMIN_TOKEN_REQUIRED');
  };
}

/** A filter the parser could not read (a ";" or a bad percent escape) must not quietly widen the answer to everything. */
function assertReadable(query: object): void {
  if (DROPPED_PAIRS in query) {
    throw new RelayError('CR_BAD_RENEWAL_REQUEST', 'the query string has a part that cannot be read (a ";", or a bad percent escape such as "%zz")');
  }
}

/**
 * Browsers send Origin with every POST, and a plain-text POST needs no CORS
 * preflight; without this check any web page open on a machine that reaches the
 * relay could silence its alerts. curl and scripts send no Origin, and the
 * relay's own page sends no actions.
 */
function assertNotFromWebPage(request: FastifyRequest): void {
  const origin = webPageOrigin(request);
  if (origin !== undefined) throw new RelayError('CR_CROSS_SITE_ACTION', JSON.stringify(origin));
}


function credentialsOf(request: FastifyRequest<{ Querystring: ListQuery }>): Credentials {
  const { authorization } = request.headers;
  // Its first value when repeated, as on /write and for protect_reads.
  const p = firstValue(request.query.p as QueryValue);
  return { ...(authorization !== undefined && { authorization }), ...(p !== undefined && { queryPassword: p }) };
}

function optionalText(value: unknown, name: string): string | undefined {
  if (value === undefined || value === '') return undefined;
  if (typeof value !== 'string') throw new RelayError('CR_BAD_RENEWAL_REQUEST', `give ${name}= at most once`);
  return value;
}

function parseBody(raw: unknown): Record<string, unknown> {
  const text = typeof raw === 'string' ? raw.trim() : '';
  if (text === '') throw new RelayError('CR_BAD_RENEWAL_REQUEST', 'the body must be a JSON object with "host" and "domain"');
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new RelayError('CR_BAD_RENEWAL_REQUEST', `the body is not JSON: ${(err as Error).message}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new RelayError('CR_BAD_RENEWAL_REQUEST', 'the body must be a JSON object with "host" and "domain"');
  }
  return value as Record<string, unknown>;
}

function certificateName(body: Record<string, unknown>): CertificateName {
  const { host, domain } = body;
  for (const [key, value] of [['host', host], ['domain', domain]] as const) {
    if (typeof value !== 'string' || value === '') {
      throw new RelayError('CR_BAD_RENEWAL_REQUEST', `"${key}" must be a non-empty string, as the certbot_renewal point's tag`);
    }
  }
  return { host: host as string, domain: domain as string };
}

/** Exactly one of "until" (an ISO 8601 time in the future) or "for_hours" (a positive number). */
function snoozeUntil(body: Record<string, unknown>, nowMs: number): number {
  const { until, for_hours: forHours } = body;
  if ((until === undefined) === (forHours === undefined)) {
    throw new RelayError('CR_BAD_RENEWAL_REQUEST', 'give exactly one of "until" (ISO 8601 time) or "for_hours" (number)');
  }
  if (forHours !== undefined) {
    if (typeof forHours !== 'number' || !Number.isFinite(forHours) || forHours <= 0) {
      throw new RelayError('CR_BAD_RENEWAL_REQUEST', '"for_hours" must be a number above zero');
    }
    const untilMs = nowMs + Math.round(forHours * HOUR_MS);
    if (!(untilMs < LATEST_SNOOZE_END_MS)) throw new RelayError('CR_BAD_RENEWAL_REQUEST', '"for_hours" is too large: the snooze must end before the year 10000');
    return untilMs;
  }
  const untilMs = typeof until === 'string' && /^\d{4}-\d{2}-\d{2}/.test(until) ? Date.parse(until) : NaN;
  if (Number.isNaN(untilMs)) throw new RelayError('CR_BAD_RENEWAL_REQUEST', '"until" must be an ISO 8601 time, e.g. 2025-07-01T00:00:00Z');
  if (untilMs <= nowMs) throw new RelayError('CR_BAD_RENEWAL_REQUEST', '"until" is in the past: a snooze ends in the future');
  return untilMs;
}
