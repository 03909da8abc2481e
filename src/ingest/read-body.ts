// Reads a write request's body with the size cap applied to what we hold in
// memory: the declared length, the bytes actually received (chunked bodies
// declare none) and, for gzip, the decompressed bytes, so a gzip bomb is cut
// off at the cap instead of inflating.
import { createGunzip } from 'node:zlib';
import type { Readable } from 'node:stream';
import { RelayError } from '../errors.js';

export interface BodyLimits {
  readonly maxBytes: number;
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
  if (encoding === 'gzip') return readGzip(stream, limits.maxBytes);
  if (encoding === 'identity' || encoding === '') return readCapped(stream, limits.maxBytes);
  throw new RelayError('CR_BAD_CONTENT_ENCODING', JSON.stringify(encoding));
}

function readCapped(stream: Readable, maxBytes: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    stream.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBytes) {
        stream.removeAllListeners('data');
        stream.resume(); // let the rest drain so the 413 can be answered on this connection
        reject(new RelayError('CR_BODY_TOO_LARGE', maxBytes));
        return;
      }
      chunks.push(chunk);
    });
    stream.once('end', () => resolve(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, size)));
    stream.once('error', reject);
  });
}

function readGzip(stream: Readable, maxBytes: number): Promise<Buffer> {
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
