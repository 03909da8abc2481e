// Requests that Node's HTTP parser ends before fastify ever sees them: an
// upload still unfinished at the request timeout, headers too large, bytes
// that are not HTTP. They too are answered in InfluxDB 1.x's shape, with the
// headers every other answer carries; fastify's default answer has neither.
import { randomUUID } from 'node:crypto';
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import { INFLUXDB_BUILD, INFLUXDB_COMPATIBLE_VERSION } from '../version.js';
import type { AnswersInFlight } from './answers-in-flight.js';
import { errorHeader } from './error-reply.js';

function answerFor(code: string | undefined, timeouts: Timeouts): { status: number; message: string } {
  switch (code) {
    // Node gives the headers' timeout and the whole request's the same code: both limits are named.
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return {
        status: 408,
        message: `the request did not arrive in time (its headers within ${timeouts.headersMs / 1000} s, all of it within ${timeouts.requestMs / 1000} s); nothing of it was stored`,
      };
    case 'HPE_HEADER_OVERFLOW':
      return { status: 431, message: 'request header fields too large' };
    case 'HPE_INVALID_URL':
      return { status: 400, message: 'malformed HTTP request: the URL must be percent-encoded (a database name with spaces or letters beyond ASCII, say)' };
    default:
      return { status: 400, message: 'malformed HTTP request' };
  }
}

export interface Timeouts {
  /** The server's headersTimeout and requestTimeout. */
  readonly headersMs: number;
  readonly requestMs: number;
}

/**
 * For fastify's clientErrorHandler option. With `inFlight`: when requests that arrived before the
 * malformed one still wait for their answers (a write waiting for its commit), those answers go out
 * first (for at most `waitMs`) and the connection is then closed without an answer of its own, which
 * would otherwise be read as theirs.
 */
export function clientErrorHandler(
  timeouts: Timeouts,
  inFlight?: AnswersInFlight,
  waitMs = WAIT_FOR_ANSWERS_MS,
): (err: NodeJS.ErrnoException, socket: Duplex) => void {
  return (err, socket) => {
    // A reset connection has nobody to answer.
    if (err.code === 'ECONNRESET' || socket.destroyed) return;
    const owed = inFlight === undefined || err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? [] : inFlight.owed(socket);
    if (owed.length === 0) {
      answer(err, socket, timeouts);
      return;
    }
    let timer: NodeJS.Timeout | undefined;
    const waited = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, waitMs);
      timer.unref();
    });
    void Promise.race([Promise.all(owed), waited]).then(() => {
      clearTimeout(timer);
      socket.destroy(err);
    });
  };
}

/** How long the answers owed before a malformed request may take: commits take milliseconds. */
const WAIT_FOR_ANSWERS_MS = 30_000;

function answer(err: NodeJS.ErrnoException, socket: Duplex, timeouts: Timeouts): void {
  if (socket.writable) {
    const { status, message } = answerFor(err.code, timeouts);
    socket.write(rawErrorAnswer(status, message));
  }
  socket.destroy(err);
}

/** A whole 1.x error answer, head and body, for a connection that ends after it. */
export function rawErrorAnswer(status: number, message: string): Buffer {
  const body = Buffer.from(JSON.stringify({ error: message }));
  const head =
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\n` +
    'Content-Type: application/json; charset=utf-8\r\n' +
    `Content-Length: ${body.length}\r\n` +
    `X-Influxdb-Version: ${INFLUXDB_COMPATIBLE_VERSION}\r\n` +
    `X-Influxdb-Build: ${INFLUXDB_BUILD}\r\n` +
    `X-Influxdb-Error: ${errorHeader(message)}\r\n` +
    `Request-Id: ${randomUUID()}\r\n` +
    'Connection: close\r\n\r\n';
  return Buffer.concat([Buffer.from(head, 'latin1'), body]);
}
