// The HTTP side of one target: gzip'd POSTs with the target's credentials,
// its own keep-alive connections and its own timeout, so that a slow or dead
// target never holds a socket or a timer another target needs. Every request
// ends in an Answer (forward/classify.ts); only a shutdown abort throws.
import http from 'node:http';
import https from 'node:https';
import { promisify } from 'node:util';
import { gzip as gzipCallback, gzipSync, constants as zlib } from 'node:zlib';
import type { TargetConfig } from '../config/defaults.js';
import { RELAY_VERSION } from '../version.js';
import type { Answer } from './classify.js';
import { joinUrl } from './routing.js';

const gzip = promisify(gzipCallback);

// Level 1: line protocol still shrinks 5-10x, at a fraction of the CPU of the default level 6,
// and the CPU is the relay's own (ingest shares the process); the network is rarely the limit.
const GZIP_LEVEL = zlib.Z_BEST_SPEED;
/** Enough of an error body for the operator; a target that answers megabytes is cut off. */
const MAX_ANSWER_BYTES = 64 * 1024;
// Idle keep-alive sockets are closed before a typical server or proxy (influxd: none; nginx: 75 s) does.
const KEEP_ALIVE_MS = 30_000;

export type TargetWire = Pick<TargetConfig, 'name' | 'kind' | 'url' | 'username' | 'password' | 'token' | 'timeoutMs' | 'concurrency'>;

/** Connections beyond `concurrency`: the empty-write probes of held destinations and CREATE DATABASE. */
const SPARE_SOCKETS = 2;

/** Line protocol as a request body: gzip'd once, then sent as often as the retries need. */
export function compressLines(lines: string): Promise<Buffer> {
  return gzip(Buffer.from(lines, 'utf8'), { level: GZIP_LEVEL });
}

/** compressLines for a worker thread (forward/round-job.ts), where blocking costs no other request anything. */
export function compressBytesSync(bytes: Uint8Array): Buffer {
  return gzipSync(bytes, { level: GZIP_LEVEL });
}

export class TargetClient {
  readonly #target: TargetWire;
  readonly #agent: http.Agent;
  readonly #request: typeof http.request;
  readonly #authorization: string | undefined;

  constructor(target: TargetWire) {
    this.#target = target;
    const secure = new URL(target.url).protocol === 'https:';
    // One connection per request a round may have in flight: a request queued for a socket would spend its
    // timeout_ms waiting, time out while the target is still writing the others, and be sent twice.
    const options = { keepAlive: true, keepAliveMsecs: 1000, maxSockets: target.concurrency + SPARE_SOCKETS, timeout: KEEP_ALIVE_MS };
    this.#agent = secure ? new https.Agent(options) : new http.Agent(options);
    this.#request = secure ? https.request : http.request;
    if (target.token !== undefined) this.#authorization = `Token ${target.token}`;
    else if (target.username !== undefined) {
      this.#authorization = `Basic ${Buffer.from(`${target.username}:${target.password ?? ''}`).toString('base64')}`;
    }
  }

  /** POSTs line protocol from compressLines to a write path from routing.ts. An empty body probes the destination. */
  write(path: string, compressed: Buffer, signal: AbortSignal): Promise<Answer> {
    return this.#post(path, compressed, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Encoding': 'gzip' }, signal);
  }

  /** influxdb-v1: `CREATE DATABASE` through POST /query, as influxd's own clients do. */
  async createDatabase(database: string, signal: AbortSignal): Promise<Answer> {
    const q = `CREATE DATABASE "${database.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
    const answer = await this.#post('/query', Buffer.from(new URLSearchParams({ q }).toString()), { 'Content-Type': 'application/x-www-form-urlencoded' }, signal);
    // influxd answers 200 with the statement's error inside the results.
    if (answer.kind === 'response' && answer.status === 200 && /"error"\s*:/.test(answer.body)) {
      return { ...answer, status: 400 };
    }
    return answer;
  }

  /** Closes the idle keep-alive sockets. */
  close(): void {
    this.#agent.destroy();
  }

  #post(path: string, body: Buffer, headers: Record<string, string>, signal: AbortSignal): Promise<Answer> {
    signal.throwIfAborted();
    const url = joinUrl(this.#target.url, path);
    return new Promise<Answer>((resolve, reject) => {
      let settled = false;
      const settle = (answer: Answer | undefined, err?: unknown) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        if (err !== undefined) reject(err);
        else resolve(answer!);
      };
      const req = this.#request(url, {
        method: 'POST',
        agent: this.#agent,
        headers: {
          ...headers,
          'Content-Length': String(body.length),
          'User-Agent': `certrelay/${RELAY_VERSION}`,
          ...(this.#authorization === undefined ? {} : { Authorization: this.#authorization }),
        },
      });
      const timer = setTimeout(() => {
        settle({ kind: 'timeout', message: `no complete answer within ${this.#target.timeoutMs} ms (targets[].timeout_ms)` });
        req.destroy();
      }, this.#target.timeoutMs);
      const onAbort = () => {
        settle(undefined, signal.reason);
        req.destroy();
      };
      signal.addEventListener('abort', onAbort, { once: true });
      req.on('error', (err: NodeJS.ErrnoException) => {
        settle({ kind: 'network', message: err.code === undefined ? err.message : `${err.code}: ${err.message}` });
      });
      req.on('response', (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          if (size < MAX_ANSWER_BYTES) chunks.push(chunk);
          size += chunk.length;
        });
        res.on('error', (err) => settle({ kind: 'network', message: `reading the answer: ${err.message}` }));
        // After 'end' this changes nothing; before it, the connection broke mid-answer.
        res.on('close', () => settle({ kind: 'network', message: 'the connection closed before the end of the answer' }));
        res.on('end', () => {
          const retryAfter = res.headers['retry-after'];
          settle({
            kind: 'response',
            status: res.statusCode ?? 0,
            body: Buffer.concat(chunks).subarray(0, MAX_ANSWER_BYTES).toString('utf8'),
            ...(typeof retryAfter === 'string' ? { retryAfter } : {}),
          });
        });
      });
      req.end(body);
    });
  }
}
