// The two InfluxDB error formats. 1.x: {"error": "..."} plus the same text in
// X-Influxdb-Error. 2.x: {"code": "...", "message": "..."} with 2.x's code
// words. Both JSON, and a 503 always says when to come back.
import type { FastifyReply } from 'fastify';
import { RelayError } from '../errors.js';

export type Api = 'v1' | 'v2';

const V2_CODES: Record<number, string> = {
  400: 'invalid',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'not found',
  405: 'method not allowed',
  413: 'request too large',
  415: 'unsupported media type',
  422: 'unprocessable entity',
  500: 'internal error',
  501: 'not implemented',
  503: 'unavailable',
};

// The official JavaScript client (@influxdata/influxdb-client, "influxdb-client-js/1.35.0") reads Retry-After
// as milliseconds: told "5", it retries within 0.2 s, and after 5 tries in under a second it drops the batch.
// It alone gets the same wait written in the unit it reads.
const MILLISECOND_RETRY_AFTER_CLIENT = /^influxdb-client-js\//;

/** Retry-After's value for this request's client: seconds, as RFC 9110 says, except for the client above. */
export function retryAfterValue(seconds: number, userAgent: string | undefined): string {
  return userAgent !== undefined && MILLISECOND_RETRY_AFTER_CLIENT.test(userAgent) ? String(seconds * 1000) : String(seconds);
}

export function sendError(reply: FastifyReply, api: Api, status: number, message: string, retryAfterSeconds?: number): FastifyReply {
  reply.code(status).type('application/json; charset=utf-8');
  if (retryAfterSeconds !== undefined) reply.header('Retry-After', retryAfterValue(retryAfterSeconds, reply.request.headers['user-agent']));
  if (api === 'v1') {
    reply.header('X-Influxdb-Error', errorHeader(message));
    // influxd's challenge: clients such as wget send Basic credentials only after one.
    if (status === 401 && !reply.hasHeader('WWW-Authenticate')) reply.header('WWW-Authenticate', 'Basic realm="InfluxDB"');
    // A Buffer body makes Node write the head on its own, in latin1; with a string body it would re-encode
    // the head as UTF-8 together with the body and double-encode the header's bytes.
    return reply.send(Buffer.from(JSON.stringify({ error: message })));
  }
  return reply.send({ code: V2_CODES[status] ?? 'internal error', message });
}

export function sendRelayError(reply: FastifyReply, api: Api, err: RelayError): FastifyReply {
  return sendError(reply, api, err.status, err.message, err.retryAfterSeconds);
}

const ERROR_HEADER_MAX_BYTES = 1024;

/**
 * As influxd: newlines become spaces (a header can't hold them) and the value
 * is cut at 1024 bytes. The UTF-8 bytes go out as they are, which Node only
 * allows for a string of latin1 code units: hence the final conversion.
 */
export function errorHeader(message: string): string {
  // eslint-disable-next-line no-control-regex
  const flat = message.replace(/[\x00-\x08\x0a-\x1f\x7f]/g, ' ');
  let bytes = Buffer.from(flat, 'utf8');
  if (bytes.length > ERROR_HEADER_MAX_BYTES) {
    let end = ERROR_HEADER_MAX_BYTES;
    while (end > 0 && (bytes[end] & 0xc0) === 0x80) end--; // don't split a UTF-8 sequence
    bytes = bytes.subarray(0, end);
  }
  return bytes.toString('latin1');
}
