// A forwarding round's requests built off the main thread: the stored batches'
// bytes go to a worker (transferred, not copied), which spreads their lines
// over lanes by series, joins each request and gzips it, into the same
// requests the forwarder makes of a small round on its own (planLanes,
// bodyOf, compressLines), without decoding the lines. The worker sends back
// each request's body, uncompressed (for the rare bisection or dead letter)
// and compressed (for the wire).
import type { BatchHead } from '../log/store.js';
import { pieceOfBytes, planLanes, type Budget } from './batcher.js';
import { compressBytesSync } from './wire.js';

const NEWLINE = 0x0a;

export interface RoundBatch {
  readonly head: Pick<BatchHead, 'id' | 'db' | 'rp' | 'points' | 'bytes'>;
  /** Routing is the forwarder's: batches with the same key go to the same destination. */
  readonly destinationKey: string;
  /** The stored lines, UTF-8. */
  readonly lines: Uint8Array;
}

export interface RoundJob {
  readonly batches: readonly RoundBatch[];
  readonly budget: Budget;
  readonly lanes: number;
}

/** A piece of a built request: its lines are body[start, end). */
export interface BuiltPiece {
  readonly batchId: number;
  readonly db: string;
  readonly rp: string;
  readonly points: number;
  readonly start: number;
  readonly end: number;
}

export interface BuiltRequest {
  readonly destinationKey: string;
  readonly pieces: readonly BuiltPiece[];
  /** The request's line protocol, UTF-8. */
  readonly body: Uint8Array;
  /** body, gzip'd as compressLines does. */
  readonly compressed: Uint8Array;
}

/** Lanes of requests, as Forwarder sends them: lanes in parallel, each lane's requests in order. */
export type BuiltRound = BuiltRequest[][];

export function buildRound(job: RoundJob): BuiltRound {
  const keys = new Map<number, string>();
  const pieces = job.batches.map((b) => {
    keys.set(b.head.id, b.destinationKey);
    return pieceOfBytes(b.head, b.lines);
  });
  const lanes = planLanes(pieces, (p) => ({ key: keys.get(p.batchId)! }), job.budget, job.lanes);
  return lanes.map((lane) =>
    lane.map((request) => {
      // bodyOf as UTF-8: the pieces' bytes (text only where a piece took the text path), one "\n" apart.
      const parts = request.pieces.map((p) => p.data ?? Buffer.from(p.text, 'utf8'));
      let size = parts.length - 1;
      for (const part of parts) size += part.byteLength;
      const body = parts.length === 1 ? parts[0] : new Uint8Array(size);
      const built: BuiltPiece[] = [];
      let start = 0;
      request.pieces.forEach((piece, k) => {
        const end = start + parts[k].byteLength;
        if (body !== parts[k]) body.set(parts[k], start);
        if (end < body.byteLength) body[end] = NEWLINE;
        built.push({ batchId: piece.batchId, db: piece.db, rp: piece.rp, points: piece.points, start, end });
        start = end + 1;
      });
      return { destinationKey: request.destination.key, pieces: built, body, compressed: compressBytesSync(body) };
    }),
  );
}

/** The buffers a job or a built round can hand over to the other thread instead of copying them. */
export function transferables(views: Iterable<Uint8Array>): ArrayBuffer[] {
  const out = new Set<ArrayBuffer>();
  for (const view of views) {
    if (view.buffer instanceof ArrayBuffer && view.byteOffset === 0 && view.byteLength === view.buffer.byteLength) out.add(view.buffer);
  }
  return [...out];
}
