// Coalescing: which pending batches one round of a forwarder covers, and how
// their lines become requests within the point and byte budget. Many small
// writes (one certbot report, one Telegraf flush) become a few large requests;
// one huge write becomes several. Pure: the forwarder reads and sends.
import { parseLines } from '../line-protocol/parse.js';
import type { BatchHead, PassedTotals } from '../log/store.js';

export interface Budget {
  readonly maxPoints: number;
  /** Bytes of line protocol before gzip (UTF-8). */
  readonly maxBytes: number;
}

export interface RoundPlan {
  /** The cursor after this round: every head up to it is covered. */
  readonly lastId: number;
  /** The covered heads this target takes, in log order. */
  readonly chosen: BatchHead[];
  /** Every covered head (taken or passed over), summed per database, for the backlog counters. */
  readonly passed: PassedTotals[];
}

/**
 * Takes heads in order while the taken ones fit the budget; heads the target
 * does not take are passed over (the cursor moves past them) without counting.
 * The first taken head is always taken, however large: it is cut into lines later.
 * A replay meant for another target was counted as passed for this one when it
 * was queued (Store.replayDeadLetters), so it is not counted again here.
 */
export function planRound(heads: readonly BatchHead[], takes: (head: BatchHead) => boolean, budget: Budget, target?: string): RoundPlan {
  const chosen: BatchHead[] = [];
  const passed = new Map<string, { batches: number; points: number; bytes: number }>();
  let points = 0;
  let bytes = 0;
  let lastId = 0;
  for (const head of heads) {
    if (takes(head)) {
      if (chosen.length > 0 && (points + head.points > budget.maxPoints || bytes + head.bytes > budget.maxBytes)) break;
      chosen.push(head);
      points += head.points;
      bytes += head.bytes;
    }
    lastId = head.id;
    if (head.onlyTarget !== null && head.onlyTarget !== undefined && target !== undefined && head.onlyTarget !== target) continue;
    const sum = passed.get(head.db) ?? { batches: 0, points: 0, bytes: 0 };
    sum.batches++;
    sum.points += head.points;
    sum.bytes += head.bytes;
    passed.set(head.db, sum);
  }
  return { lastId, chosen, passed: [...passed].map(([db, sum]) => ({ db, ...sum })) };
}

/** Lines of one stored batch (or a part of one), on their way to a target. */
export interface Piece {
  readonly batchId: number;
  readonly db: string;
  readonly rp: string;
  /** Normalised lines joined by "\n". */
  readonly text: string;
  readonly points: number;
  readonly bytes: number;
}

export function pieceOf(head: BatchHead, text: string): Piece {
  return { batchId: head.id, db: head.db, rp: head.rp, text, points: head.points, bytes: head.bytes };
}

/**
 * The lines of a stored batch. Not split on every "\n": a quoted string field
 * may hold a newline (influxd stores it), so the text is read as line protocol,
 * the way it was read at intake. Stored lines are `head + " " + ns`, so that
 * round-trips exactly.
 */
export function splitLines(text: string, expected?: number): string[] {
  // Only a quote or a backslash can put a newline inside a line (influxd's scanLine).
  if (!text.includes('"') && !text.includes('\\')) return text.split('\n');
  const { points, errors } = parseLines(text);
  const lines = points.map((p) => (p.timestamp === undefined ? p.head : `${p.head} ${p.timestamp}`));
  // Only the log's own lines come here; should one ever not read back, a plain split loses nothing.
  if (errors.length > 0 || (expected !== undefined && lines.length !== expected) || lines.join('\n') !== text) {
    return text.split('\n');
  }
  return lines;
}

function pieceFromLines(from: Piece, lines: readonly string[]): Piece {
  const text = lines.join('\n');
  return { batchId: from.batchId, db: from.db, rp: from.rp, text, points: lines.length, bytes: Buffer.byteLength(text, 'utf8') };
}

/** A piece over the budget, as consecutive pieces within it (a single line longer than maxBytes stays alone). */
export function cutToBudget(piece: Piece, budget: Budget): Piece[] {
  if (piece.points <= budget.maxPoints && piece.bytes <= budget.maxBytes) return [piece];
  const out: Piece[] = [];
  let current: string[] = [];
  let bytes = 0;
  for (const line of splitLines(piece.text, piece.points)) {
    const lineBytes = Buffer.byteLength(line, 'utf8') + 1;
    if (current.length > 0 && (current.length + 1 > budget.maxPoints || bytes + lineBytes > budget.maxBytes)) {
      out.push(pieceFromLines(piece, current));
      current = [];
      bytes = 0;
    }
    current.push(line);
    bytes += lineBytes;
  }
  if (current.length > 0) out.push(pieceFromLines(piece, current));
  return out;
}

export interface Request<D> {
  readonly destination: D;
  readonly pieces: Piece[];
}

/**
 * Groups pieces by destination (in order of first appearance; a database's
 * own order is kept) and packs each group into requests within the budget.
 * Order between different destinations is not kept: they hold different series.
 */
export function packRequests<D extends { readonly key: string }>(
  pieces: readonly Piece[],
  destinationOf: (piece: Piece) => D,
  budget: Budget,
): Request<D>[] {
  const groups = new Map<string, { destination: D; pieces: Piece[] }>();
  for (const piece of pieces) {
    const destination = destinationOf(piece);
    const group = groups.get(destination.key) ?? { destination, pieces: [] };
    for (const part of cutToBudget(piece, budget)) group.pieces.push(part);
    groups.set(destination.key, group);
  }
  const requests: Request<D>[] = [];
  for (const { destination, pieces: group } of groups.values()) {
    let current: Piece[] = [];
    let points = 0;
    let bytes = 0;
    for (const piece of group) {
      if (current.length > 0 && (points + piece.points > budget.maxPoints || bytes + piece.bytes > budget.maxBytes)) {
        requests.push({ destination, pieces: current });
        current = [];
        points = 0;
        bytes = 0;
      }
      current.push(piece);
      points += piece.points;
      bytes += piece.bytes + 1;
    }
    if (current.length > 0) requests.push({ destination, pieces: current });
  }
  return requests;
}

/**
 * The requests of one round, as lanes: the requests of a lane go one after the
 * other, lanes go in parallel (up to the target's concurrency). A destination
 * whose lines fit one request is one lane, as are several small destinations.
 * A bigger one is spread over `lanes` lanes by series (measurement and tag set),
 * so every series stays in one lane and keeps its order; different series have
 * no order to keep in InfluxDB.
 */
export function planLanes<D extends { readonly key: string }>(
  pieces: readonly Piece[],
  destinationOf: (piece: Piece) => D,
  budget: Budget,
  lanes: number,
): Request<D>[][] {
  const groups = new Map<string, { destination: D; pieces: Piece[]; points: number; bytes: number }>();
  for (const piece of pieces) {
    const destination = destinationOf(piece);
    const group = groups.get(destination.key) ?? { destination, pieces: [], points: 0, bytes: 0 };
    group.pieces.push(piece);
    group.points += piece.points;
    group.bytes += piece.bytes;
    groups.set(destination.key, group);
  }
  const out: Request<D>[][] = [];
  for (const { destination, pieces: group, points, bytes } of groups.values()) {
    const same = () => destination;
    if (lanes <= 1 || (points <= budget.maxPoints && bytes <= budget.maxBytes)) {
      out.push(packRequests(group, same, budget));
      continue;
    }
    for (const lane of spreadBySeries(group, lanes)) {
      if (lane.length > 0) out.push(packRequests(lane, same, budget));
    }
  }
  return out;
}

/** The pieces' lines dealt into `lanes` lanes by series; each lane keeps the lines' order. */
export function spreadBySeries(pieces: readonly Piece[], lanes: number): Piece[][] {
  const out: Piece[][] = Array.from({ length: lanes }, () => []);
  for (const piece of pieces) {
    const byLane: string[][] = Array.from({ length: lanes }, () => []);
    for (const line of splitLines(piece.text, piece.points)) byLane[laneOf(line, lanes)].push(line);
    byLane.forEach((lines, lane) => {
      if (lines.length > 0) out[lane].push(pieceFromLines(piece, lines));
    });
  }
  return out;
}

/**
 * The lane of a line: a hash (FNV-1a) of its series key, everything before the
 * first unescaped space. Tags written in another order hash differently; every
 * client we know writes them in one order (Telegraf sorts them).
 */
export function laneOf(line: string, lanes: number): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < line.length; i++) {
    const c = line.charCodeAt(i);
    if (c === 32) break;
    hash = Math.imul(hash ^ c, 0x01000193);
    if (c === 92 && i + 1 < line.length) {
      i++;
      hash = Math.imul(hash ^ line.charCodeAt(i), 0x01000193);
    }
  }
  return (hash >>> 0) % lanes;
}

export function countPoints(pieces: readonly Piece[]): number {
  let n = 0;
  for (const p of pieces) n += p.points;
  return n;
}

/** The request body: the pieces' lines, one per line. */
export function bodyOf(pieces: readonly Piece[]): string {
  return pieces.length === 1 ? pieces[0].text : pieces.map((p) => p.text).join('\n');
}

/**
 * Two halves by points, for a 413 (too large) or a bisection (which lines are
 * refused?). Needs at least two points. Splits between pieces where it can,
 * inside the one piece otherwise.
 */
export function halve(pieces: readonly Piece[]): [Piece[], Piece[]] {
  const total = countPoints(pieces);
  if (total < 2) throw new Error('halve needs at least two points');
  if (pieces.length === 1) {
    const lines = splitLines(pieces[0].text, pieces[0].points);
    const middle = Math.ceil(lines.length / 2);
    return [[pieceFromLines(pieces[0], lines.slice(0, middle))], [pieceFromLines(pieces[0], lines.slice(middle))]];
  }
  // The piece boundary nearest to half the points; never an empty half.
  let best = 1;
  let seen = 0;
  let bestDistance = Infinity;
  for (let i = 0; i < pieces.length - 1; i++) {
    seen += pieces[i].points;
    const distance = Math.abs(total / 2 - seen);
    if (distance < bestDistance) {
      bestDistance = distance;
      best = i + 1;
    }
  }
  return [pieces.slice(0, best), pieces.slice(best)];
}
