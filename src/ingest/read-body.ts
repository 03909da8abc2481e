// Reads a write request's body with the size cap applied to what we hold in
// memory: the declared length, the bytes actually received (chunked bodies
// declare none) and, for gzip, the decompressed bytes, so a gzip bomb is cut
// off at the cap instead of inflating.
import { createGunzip } from 'node:zlib';
import type { Readable } from 'node:stream';
import { RelayError } from '../errors.js';
import type { BodyReservation } from './body-budget.js';

export interface BodyLimits {
  readonly maxBytes: number;
  /** Holds the body's bytes in the relay-wide budget as they arrive (see body-budget.ts). */
  readonly reservation?: BodyReservation;
  /** Called once the declared length is accepted, before the first byte is read (Expect: 100-continue). */
  readonly beforeReading?: () => void;
}

export async function readBody(
  stream: Readable | undefined,
  headers: { readonly 'content-length'?: string; readonly 'content-encoding'?: string },
  limits: BodyLimits,
): Promise<Buffer> {
  const declared = headers['content-length'];
  if (declared !== undefined && Number(declared) > limits.maxBytes) {
    throw new RelayError('CR_BODY_TOO_LARGE', limits.maxBytes);
  }
  if (stream === undefined) return Buffer.alloc(0);
  const encoding = (headers['content-encoding'] ?? 'identity').trim().toLowerCase();
  if (encoding !== 'gzip' && encoding !== 'identity' && encoding !== '') throw new RelayError('CR_BAD_CONTENT_ENCODING', JSON.stringify(encoding));
  limits.beforeReading?.();
  const hold = limits.reservation === undefined ? holdNothing : limits.reservation.hold;
  if (encoding === 'gzip') return readGzip(stream, limits.maxBytes, hold);
  // Only bytes received count: a declared length held up front let three clients that sent
  // headers and nothing more block every write until the request timeout.
  return readCapped(stream, limits.maxBytes, hold);
}

function holdNothing(): void {}

function readCapped(stream: Readable, maxBytes: number, hold: (total: number) => void): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    stream.on('data', (chunk: Buffer) => {
      size += chunk.length;
      let refusal: unknown;
      if (size > maxBytes) refusal = new RelayError('CR_BODY_TOO_LARGE', maxBytes);
      else {
        try {
          hold(size);
        } catch (err) {
          refusal = err;
        }
      }
      if (refusal !== undefined) {
        stream.removeAllListeners('data');
        stream.resume(); // let the rest drain so the answer can be given on this connection
        reject(refusal);
        return;
      }
      chunks.push(chunk);
    });
    stream.once('end', () => resolve(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, size)));
    stream.once('error', reject);
  });
}

function readGzip(stream: Readable, maxBytes: number, hold: (total: number) => void): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const gunzip = createGunzip();
    const chunks: Buffer[] = [];
    let compressed = 0;
    let size = 0;
    let settled = false;
    const fail = (err: Error): void => {
      if (settled) return;
      settled = true;
      stream.unpipe(gunzip);
      gunzip.destroy();
      stream.resume();
      reject(err);
    };
    stream.on('data', (chunk: Buffer) => {
      compressed += chunk.length;
      if (compressed > maxBytes) fail(new RelayError('CR_BODY_TOO_LARGE', maxBytes));
    });
    gunzip.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBytes) return fail(new RelayError('CR_BODY_TOO_LARGE', maxBytes));
      try {
        hold(size);
      } catch (err) {
        return fail(err as Error);
      }
      chunks.push(chunk);
    });
    gunzip.once('end', () => {
      if (settled) return;
      settled = true;
      resolve(Buffer.concat(chunks, size));
    });
    gunzip.once('error', (err) => fail(new RelayError('CR_BAD_GZIP', err.message)));
    stream.once('error', fail);
    stream.pipe(gunzip);
  });
}
