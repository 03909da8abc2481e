// One target's forwarder: reads the log after the target's own cursor, sends
// coalesced gzip requests, acts on each answer (forward/classify.ts), and
// advances the cursor in the same store transaction that records the lines the
// target refused. Each forwarder has its own queue, connections, timeouts and
// retry timers, so a slow or dead target only ever delays itself.
import PQueue from 'p-queue';
import { setMaxListeners } from 'node:events';
import { setImmediate as yieldToLoop, setTimeout as sleep } from 'node:timers/promises';
import type { TargetConfig } from '../config/defaults.js';
import type { BatchHead, DeadLetter, NewDeadLetter, PassedTotals, Store } from '../log/store.js';
import type { Metrics } from '../ops/metrics.js';
import { retryDelayMs, type BackoffPolicy } from './backoff.js';
import { bodyOf, countPoints, halve, pieceInBody, pieceOf, planLanes, planRound, type Budget, type Piece, type Request } from './batcher.js';
import { answerStatus, answerText, classify, classifyEmptyWrite, DESTINATION_HOLDS, type Answer, type Outcome, type OutcomeClass } from './classify.js';
import type { BuiltRound, RoundBatch, RoundJob } from './round-job.js';
import { routeFor, type Destination } from './routing.js';
import { readTargetStatusAndOldest, type HeldDestination as HeldDestinationStatus, type TargetStatus } from './status.js';
import { compressLines, TargetClient } from './wire.js';

/** The subset of pino the forwarders use. */
export interface ForwardLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface ForwarderDeps {
  readonly store: Store;
  readonly target: TargetConfig;
  readonly metrics?: Metrics;
  readonly log?: ForwardLog;
  readonly nowMs?: () => number;
  /** A clock that never goes back, in ms (default: performance.now, or nowMs when that is given). */
  readonly steadyMs?: () => number;
  /** For the backoff jitter; tests pin it. */
  readonly random?: () => number;
  /** Builds large rounds on another thread (the prepare workers); without it, or if it fails, they are built here. */
  readonly roundBuilder?: (job: RoundJob) => Promise<BuiltRound>;
}

/**
 * Consecutive plain 500s on the same lines before the forwarder asks whether
 * the content is to blame. influxd 1.6.7 answers 500 (a panic) to a point with
 * exactly 100 tags, and loses the whole request: retried as is, that request
 * would block the target forever. So after this many, the forwarder sends an
 * empty write to the same destination. If that succeeds, the server is up and
 * the lines are the problem: they are bisected like a 400, and a single line
 * that still gets 500 becomes a dead letter (with the 500's text), so the other
 * clients' lines go through. If the empty write fails too, the server is sick
 * and everything keeps being retried; nothing is dead-lettered for a 5xx
 * without that proof. Retryable-sounding 500s ("timeout") never count.
 * Inside such a bisection the target has just proven itself, so one 500 on a
 * half is enough to probe and bisect again: isolating one line among 5000 then
 * takes seconds, not minutes of backoff per level.
 */
export const POISON_SUSPECT_FAILURES = 3;
/** Sightings of the log's end are kept at most this often: the watched age is then at most this short. */
const SIGHTING_SPACING_MS = 5_000;
/** At most this many sightings per target (about 3 hours of them at full spacing before thinning). */
const SIGHTINGS_MAX = 2048;
/**
 * A poison episode that dead-letters every line of a request this large is
 * taken for a server that cannot store anything, and undone: influxd's panic
 * on a 100-tag point is one line among others, not every line of a request.
 */
export const POISON_EPISODE_MIN_POINTS = 8;
/**
 * Timeouts in a row on the same request after which its halves are sent instead. A target that takes
 * longer than timeout_ms for a large request may store it all the same: resent whole, it would be stored
 * again and again while the cursor never moves. Halves get through once they fit the timeout, and each
 * timeout then duplicates at most what it sent.
 */
export const TIMEOUTS_BEFORE_SPLIT = 2;

/** The hold of a target that answers 400, 413 or 422 even to an empty write: no line is to blame. */
const REFUSES_EVEN_EMPTY_WRITES: Outcome = { action: 'hold', class: 'unexpected' };

/**
 * A server error's words without its figures (a point count, a request id, a time): a server that
 * names them in every answer still says the same thing, and must not start a new isolation each time.
 */
function sameWords(text: string): string {
  return text.replace(/[0-9a-f]{8,}(?:-[0-9a-f]{4,})*|\d+/gi, '#');
}

/** A 500 that says nothing (influxd's panic on a poison line answers exactly this). */
const GENERIC_SERVER_ERROR = /^internal server error$/i;
/** Heads read per round at least, so that a target limited to some databases passes the others quickly. */
const MIN_HEADS_PER_ROUND = 1000;
/**
 * A round of at least this many bytes is built by roundBuilder: spreading its lines by series
 * and joining them costs the main thread ~0.4–0.5 µs per line (5000-line batches), far more
 * than handing the stored bytes over; a few small batches are cheaper here.
 */
const MIN_WORKER_ROUND_BYTES = 64 * 1024;
/** After an unexpected error (the store itself), before the next round. */
const ERROR_PAUSE_MS = 1000;
/**
 * A round that only passes over batches for other databases sends nothing, so
 * its cursor move is written at most this often (or with the next delivery):
 * otherwise a target limited to some databases would add one fsync per commit.
 * Forgetting it in a crash only means passing over the same batches again.
 */
const SKIP_FLUSH_MS = 1000;

/**
 * Holds that concern one destination, not the whole target: only that
 * destination's lines are kept aside (held dead letters), the others go on.
 * A 403 is one of them: influxd answers it for a database the user may not
 * write to ("user is not authorized to write to database"), InfluxDB 2 for a
 * bucket the token does not cover; the target's other databases still take
 * writes. Only a 401 (the credentials themselves) holds the whole target.
 */
/** A held destination is released only when none of its batches waits in the next this many after the cursor. */
const RELEASE_LOOKAHEAD = 10_000;
/** Held dead letters read per query while choosing the next ones to send (each up to a request's bytes). */
const DRAIN_PAGE_ROWS = 8;
/** Held dead letters a release re-queues at once (each at most a request's lines); more are drained from the dead letters. */
const RELEASE_MAX_DEAD_LETTERS = 16;
/**
 * Ids of held dead letters read per query while looking for a destination's oldest ones: all of them at once, a
 * long hold's 600,000 blocked the event loop for ~0.5 s at every request sent from them and after every round
 * (the relay's writes took 1.2 s each while they were sent).
 */
const HELD_KEYS_PAGE = 256;

interface Held {
  readonly outcome: OutcomeClass;
  readonly status: number | null;
  readonly error: string;
  readonly sinceMs: number;
}

/**
 * A destination the target lacks. While held, its lines become held dead
 * letters in arrival order, without a send; an empty write every
 * retry_max_ms checks it, and once that succeeds (`ready`) its held dead
 * letters go back into the log, for this target only, in id order, as soon as
 * none of its batches still waits after the cursor (so its order is kept).
 * While its newer batches keep arriving, that moment may not come: the held
 * lines are then sent straight from the dead letters, oldest first, a request
 * at a time between rounds (`draining`), and the hold ends when none is left.
 */
interface HeldDestination {
  readonly destination: Destination;
  outcome: OutcomeClass;
  status: number | null;
  error: string;
  readonly sinceMs: number;
  ready: boolean;
  /** Set while held lines are being sent: #deliver sends them instead of keeping them aside again. */
  draining: boolean;
}

export class Forwarder {
  readonly target: TargetConfig;
  readonly #store: Store;
  readonly #metrics: Metrics | undefined;
  readonly #log: ForwardLog | undefined;
  readonly #nowMs: () => number;
  readonly #steadyMs: () => number;
  /**
   * When (steady clock) the log was seen to reach each batch id: a batch was known to wait no later than
   * the first sighting at or past its id. Increasing in both; thinned to one per SIGHTING_SPACING_MS.
   */
  readonly #sightings: Array<{ readonly lastId: number; readonly steadyMs: number }> = [];
  readonly #random: () => number;
  readonly #client: TargetClient;
  readonly #roundBuilder: ((job: RoundJob) => Promise<BuiltRound>) | undefined;
  #warnedRoundBuilder = false;
  /** One request. */
  readonly #budget: Budget;
  /** One round: a request per lane of concurrency. */
  readonly #roundBudget: Budget;
  readonly #backoff: BackoffPolicy;
  // One round at a time, in log order: a wake while a round runs queues (at most) one more.
  readonly #queue = new PQueue({ concurrency: 1 });
  // The checks of held destinations, one at a time: each held destination has its own, every retry_max_ms, and
  // 919 of them at once took every connection to the target (its rounds waited behind them, timed out, and
  // nothing more was delivered). One at a time, they use one of the connections kept spare for them.
  readonly #checks = new PQueue({ concurrency: 1 });
  readonly #abort = new AbortController();
  readonly #routes = new Map<string, Destination | undefined>();
  #cursor = 0;
  #stopping = false;
  /** Lanes waiting to retry. */
  #waiting = 0;
  #held: Held | undefined;
  /** By destination key. */
  readonly #heldDestinations = new Map<string, HeldDestination>();
  /** Passed-over batches not yet written to the store (see SKIP_FLUSH_MS). */
  #skipped: { lastId: number; passed: Map<string, PassedTotals> } | undefined;
  #skipFlush: NodeJS.Timeout | undefined;

  constructor(deps: ForwarderDeps) {
    this.target = deps.target;
    this.#store = deps.store;
    this.#metrics = deps.metrics;
    this.#log = deps.log;
    this.#nowMs = deps.nowMs ?? Date.now;
    this.#steadyMs = deps.steadyMs ?? deps.nowMs ?? (() => performance.now());
    this.#random = deps.random ?? Math.random;
    this.#client = new TargetClient(deps.target);
    this.#roundBuilder = deps.roundBuilder;
    this.#budget = { maxPoints: deps.target.batchMaxPoints, maxBytes: deps.target.batchMaxBytes };
    const lanes = deps.target.concurrency;
    this.#roundBudget = { maxPoints: this.#budget.maxPoints * lanes, maxBytes: this.#budget.maxBytes * lanes };
    this.#backoff = { initialMs: deps.target.retryInitialMs, maxMs: deps.target.retryMaxMs };
    // Every held destination's check waits on this signal, and every request in flight: more than Node's 10
    // listeners is the normal case with many held databases, not a leak to warn about on stderr.
    setMaxListeners(0, this.#abort.signal);
  }

  get name(): string {
    return this.target.name;
  }

  /** Resumes from the stored cursor and sends whatever is pending. */
  start(): void {
    this.#cursor = this.#store.cursor(this.name) ?? 0;
    // Destinations held before a restart stay held until a check finds them accepting writes.
    for (const source of this.#store.heldSources(this.name)) {
      const destination = this.#route(source.db, source.rp);
      if (destination === undefined) {
        // Like its batches, a database removed from `databases` is no longer this target's: its held lines stay unsent.
        this.#log?.warn(
          { target: this.name, db: source.db, rp: source.rp, heldSinceMs: source.sinceMs },
          'held dead letters of a database the target no longer takes (targets[].databases) are not sent: add the database back, or delete them (certrelay dead-letters purge)',
        );
        continue;
      }
      if (this.#heldDestinations.has(destination.key)) continue;
      const { class: outcome } = classify({ kind: 'response', status: source.status ?? 0, body: source.error });
      const held: HeldDestination = { destination, outcome, status: source.status, error: source.error, sinceMs: source.sinceMs, ready: false, draining: false };
      this.#heldDestinations.set(destination.key, held);
      void this.#watch(held);
    }
    this.wake();
  }

  /** How many sightings of the log's end the forwarder keeps now (bounded: see #noteLogEnd). */
  get sightingCount(): number {
    return this.#sightings.length;
  }

  /** Something was committed: send it now unless a round is already queued behind the current one. */
  wake(): void {
    if (this.#abort.signal.aborted) return;
    if (!this.#stopping) this.#noteLogEnd(); // the store closes soon after a stop
    if (this.#queue.size === 0) void this.#queue.add(() => this.#pump());
  }

  /**
   * Delivers what is pending for up to graceMs, then abandons the request in
   * flight (it is resent after the restart). A target that is failing is not
   * waited for at all. The cursor stays where the last delivery left it.
   */
  async stop(graceMs: number): Promise<void> {
    this.#stopping = true;
    if (this.#waiting > 0) this.#abort.abort(new StopError('stopping while waiting to retry'));
    this.wake();
    const timer = setTimeout(() => this.#abort.abort(new StopError(`shutdown grace of ${graceMs} ms is over`)), graceMs);
    await this.#queue.onIdle();
    clearTimeout(timer);
    this.#flushSkipped();
    if (!this.#abort.signal.aborted) this.#abort.abort(new StopError('stopped'));
    this.#client.close();
  }

  /** The stored status, with the live view of whether the target is refusing everything. */
  status(nowMs = this.#nowMs()): TargetStatus {
    // The store's view of a hold (heldAnswer among it) gives way to the live one below.
    const { status: { heldAnswer: _storedHold, ...read }, oldestUnsentId } = readTargetStatusAndOldest(this.#store, this.target, nowMs);
    const stored = oldestUnsentId === undefined ? read : { ...read, oldestUnsentAgeSeconds: this.#steadyAgeSeconds(read.oldestUnsentAgeSeconds, oldestUnsentId) };
    if (this.#held !== undefined) {
      const heldAnswer = { status: this.#held.status, error: this.#held.error };
      return { ...stored, heldBecause: this.#held.outcome, heldDestination: null, heldAnswer };
    }
    const [held] = this.#heldDestinations.values();
    if (held === undefined) return { ...stored, heldBecause: null, heldDestination: null };
    const heldDestination: HeldDestinationStatus = {
      label: held.destination.label,
      status: held.status,
      error: held.error,
      sinceMs: held.sinceMs,
      alsoHeld: this.#heldDestinations.size - 1,
    };
    return { ...stored, heldBecause: held.outcome, heldDestination };
  }

  /**
   * The oldest unsent point's age, never less than the time this process has watched
   * it wait: with the wall clock set back (an NTP step), the age by the clock reads 0
   * until the clock catches up, and a lag alert would stay silent meanwhile. Each call
   * notes how far the log reached, so the next oldest batch, once the current one is
   * delivered, is aged from when it was first seen too.
   */
  #steadyAgeSeconds(clockAgeSeconds: number, oldestUnsentId: number): number {
    const steadyMs = this.#noteLogEnd();
    const first = this.#sightings.find((s) => s.lastId >= oldestUnsentId);
    return first === undefined ? clockAgeSeconds : Math.max(clockAgeSeconds, (steadyMs - first.steadyMs) / 1000);
  }

  /** Notes how far the log reaches now (every wake: after each commit and each poll), at most once per spacing. */
  #noteLogEnd(): number {
    const steadyMs = this.#steadyMs();
    const last = this.#sightings.at(-1);
    if (last !== undefined && steadyMs - last.steadyMs < SIGHTING_SPACING_MS) return steadyMs;
    const lastId = this.#store.lastBatchId();
    if (last === undefined || lastId > last.lastId) this.#sightings.push({ lastId, steadyMs });
    // A target down for weeks would gather one a 5 s: past the limit every other one goes (the first
    // stays exact), so later batches are aged from a later sighting, never an earlier one.
    if (this.#sightings.length > SIGHTINGS_MAX) {
      const [first, ...rest] = this.#sightings;
      this.#sightings.splice(0, this.#sightings.length, first, ...rest.filter((_, i) => i % 2 === 1));
    }
    return steadyMs;
  }


  /** Drops the sightings that reach no further than the cursor: no batch they cover waits any more (the last stays, for the spacing). */
  #trimSightings(): void {
    const needed = this.#sightings.findIndex((s) => s.lastId > this.#cursor);
    const drop = needed < 0 ? this.#sightings.length - 1 : needed;
    if (drop > 0) this.#sightings.splice(0, drop);
  }

  async #pump(): Promise<void> {
    try {
      let next = await this.#prepareRound(this.#cursor);
      while (next !== undefined) {
        const round = next;
        // The next round is read, laned and compressed while this one is on the wire, so the target
        // is not left idle between rounds. Only the sends and the cursor moves keep to log order.
        const sent = ignoreRejection(this.#runRound(round));
        let ahead: PreparedRound | undefined;
        if (round.more) {
          try {
            await yieldToLoop(); // this round's requests go out first
            ahead = await this.#prepareRound(round.lastId);
          } catch (err) {
            await sent.catch(() => undefined); // never two rounds in flight: the retry starts after this one ends
            throw err;
          }
        }
        const more = await sent;
        // A released destination's lines go back at the end of the log, after what `ahead` covers: plan again.
        const released = this.#release();
        next = ahead !== undefined && !released ? ahead : more || released ? await this.#prepareRound(this.#cursor) : undefined;
      }
    } catch (err) {
      if (err instanceof StopError || this.#abort.signal.aborted) return;
      this.#log?.error({ err, target: this.name }, 'forwarding round failed; retrying');
      try {
        await sleep(ERROR_PAUSE_MS, undefined, { signal: this.#abort.signal });
      } catch {
        return;
      }
      this.wake();
    }
  }

  /**
   * Reads and plans the round after `afterId` without changing any state: the
   * pending batches up to the budget, their lanes, and their request bodies
   * (a large round all built on a prepare worker, a small one compressed on
   * the thread pool from now on). Undefined when nothing is pending.
   */
  async #prepareRound(afterId: number): Promise<PreparedRound | undefined> {
    const limit = Math.max(this.#roundBudget.maxPoints, MIN_HEADS_PER_ROUND);
    const heads = this.#store.readBatchHeadsAfter(afterId, limit);
    if (heads.length === 0) return undefined;
    const plan = planRound(heads, (h) => this.#takes(h), this.#roundBudget, this.name);
    const more = heads.length === limit || plan.lastId !== heads[heads.length - 1].id;
    if (plan.chosen.length === 0) return { lastId: plan.lastId, passed: plan.passed, more, lanes: [] };
    let bytes = 0;
    for (const head of plan.chosen) bytes += head.bytes;
    const lanes = (bytes >= MIN_WORKER_ROUND_BYTES ? await this.#buildElsewhere(plan.chosen, heads) : undefined) ?? this.#buildHere(plan.chosen, heads);
    return { lastId: plan.lastId, passed: plan.passed, more, lanes };
  }

  #buildHere(chosen: readonly BatchHead[], heads: readonly BatchHead[]): PreparedRound['lanes'] {
    const pieces = this.#readChosen(chosen, heads, (from, to) => this.#store.readBatchLines(from, to), pieceOf);
    return planLanes(pieces, (p) => this.#route(p.db, p.rp)!, this.#budget, this.target.concurrency).map((lane) =>
      lane.map((request) => ({ ...request, body: ignoreRejection(compressLines(bodyOf(request.pieces))) })),
    );
  }

  /** The round built by roundBuilder; undefined (build it here) without one or when it fails. */
  async #buildElsewhere(chosen: readonly BatchHead[], heads: readonly BatchHead[]): Promise<PreparedRound['lanes'] | undefined> {
    if (this.#roundBuilder === undefined) return undefined;
    const destinations = new Map<string, Destination>();
    const batches = this.#readChosen(chosen, heads, (from, to) => this.#store.readBatchBytes(from, to), (head, lines): RoundBatch => {
      const destination = this.#route(head.db, head.rp)!;
      destinations.set(destination.key, destination);
      return { head: { id: head.id, db: head.db, rp: head.rp, points: head.points, bytes: head.bytes }, destinationKey: destination.key, lines };
    });
    let built: BuiltRound;
    try {
      built = await this.#roundBuilder({ batches, budget: this.#budget, lanes: this.target.concurrency });
    } catch (err) {
      if (!this.#warnedRoundBuilder) this.#log?.warn({ err, target: this.name }, 'building a round on a worker thread failed; building it on the main thread');
      this.#warnedRoundBuilder = true;
      return undefined;
    }
    return built.map((lane) =>
      lane.map((request) => ({
        destination: destinations.get(request.destinationKey)!,
        pieces: request.pieces.map((at) => pieceInBody(request.body, at)),
        body: Promise.resolve(Buffer.from(request.compressed.buffer, request.compressed.byteOffset, request.compressed.byteLength)),
      })),
    );
  }

  /** Sends a prepared round and moves the cursor past it. Returns whether more is pending. */
  async #runRound(round: PreparedRound): Promise<boolean> {
    if (round.lanes.length === 0) {
      this.#skip(round.lastId, round.passed);
      return round.more;
    }
    // Lanes in parallel, each lane's requests in order. Every lane settles before the
    // round ends, so a failing lane never leaves another one sending into the next round.
    const deadLetters: NewDeadLetter[] = [];
    const queue = new PQueue({ concurrency: this.target.concurrency });
    const results = await Promise.allSettled(
      round.lanes.map((lane) =>
        queue.add(async () => {
          let points = 0;
          for (const request of lane) points += await this.#deliver(request.destination, request.pieces, deadLetters, POISON_SUSPECT_FAILURES, request.body, true);
          return points;
        }),
      ),
    );
    let delivered = 0;
    for (const result of results) {
      if (result.status === 'rejected') throw result.reason;
      delivered += result.value ?? 0;
    }

    this.#store.advanceCursor(this.name, round.lastId, this.#withSkipped(round.passed), deadLetters, this.#nowMs(), delivered > 0);
    this.#takeSkipped(); // written with this advance
    this.#cursor = round.lastId;
    this.#trimSightings();
    const refused = deadLetters.filter((d) => d.held !== true);
    this.#warnRefused(refused, delivered);
    if (delivered > 0) this.#metrics?.forwardPointsDelivered.inc({ target: this.name }, delivered);
    // Counted once written: a round that fails before its cursor move is sent again and must not count twice.
    const refusedPoints = refused.reduce((sum, d) => sum + d.points, 0);
    if (refusedPoints > 0) this.#metrics?.forwardPointsDeadLettered.inc({ target: this.name }, refusedPoints);
    return round.more;
  }

  /** Says that lines became dead letters, once they are written: the log is where an operator first looks. */
  #warnRefused(refused: readonly NewDeadLetter[], delivered: number): void {
    if (refused.length === 0) return;
    const [first] = refused;
    this.#log?.warn(
      { target: this.name, deadLetters: refused.length, delivered, status: first.status, error: first.error, line: first.lines.slice(0, 512) },
      'the target refused some lines: they are dead letters (certrelay dead-letters list), the rest was delivered',
    );
  }

  #skip(lastId: number, passed: readonly PassedTotals[]): void {
    this.#cursor = lastId;
    this.#trimSightings();
    this.#skipped ??= { lastId, passed: new Map() };
    this.#skipped.lastId = lastId;
    for (const p of passed) {
      const sum = this.#skipped.passed.get(p.db);
      this.#skipped.passed.set(p.db, sum === undefined ? p : { db: p.db, batches: sum.batches + p.batches, points: sum.points + p.points, bytes: sum.bytes + p.bytes });
    }
    this.#skipFlush ??= setTimeout(() => this.#flushSkipped(), SKIP_FLUSH_MS);
    this.#skipFlush.unref();
  }

  /** This round's passed totals plus the passed-over batches not yet written. */
  #withSkipped(passed: readonly PassedTotals[]): PassedTotals[] {
    const skipped = this.#skipped;
    if (skipped === undefined) return [...passed];
    const all = new Map(skipped.passed);
    for (const p of passed) {
      const sum = all.get(p.db);
      all.set(p.db, sum === undefined ? p : { db: p.db, batches: sum.batches + p.batches, points: sum.points + p.points, bytes: sum.bytes + p.bytes });
    }
    return [...all.values()];
  }

  #takeSkipped(): { lastId: number; passed: Map<string, PassedTotals> } | undefined {
    clearTimeout(this.#skipFlush);
    this.#skipFlush = undefined;
    const skipped = this.#skipped;
    this.#skipped = undefined;
    return skipped;
  }

  #flushSkipped(): void {
    const skipped = this.#skipped;
    if (skipped === undefined) return;
    try {
      this.#store.advanceCursor(this.name, skipped.lastId, [...skipped.passed.values()], [], this.#nowMs(), false);
      this.#takeSkipped();
    } catch (err) {
      // Kept for the next delivery (or the next try): the counters must not lose it.
      this.#skipFlush = undefined;
      this.#log?.error({ err, target: this.name }, 'could not record the cursor past batches for other databases');
    }
  }

  #takes(head: BatchHead): boolean {
    return (head.onlyTarget === null || head.onlyTarget === this.name) && this.#route(head.db, head.rp) !== undefined;
  }

  #route(db: string, rp: string): Destination | undefined {
    const key = `${db}\u0000${rp}`;
    if (!this.#routes.has(key)) this.#routes.set(key, routeFor(this.target, db, rp));
    return this.#routes.get(key);
  }

  /** Something made of each chosen batch's lines: one range read per run of consecutive chosen heads. */
  #readChosen<L, T>(
    chosen: readonly BatchHead[],
    heads: readonly BatchHead[],
    read: (fromId: number, toId: number) => ReadonlyArray<{ readonly id: number; readonly lines: L }>,
    make: (head: BatchHead, lines: L) => T,
  ): T[] {
    const out: T[] = [];
    const position = new Map(heads.map((h, i) => [h.id, i]));
    let i = 0;
    while (i < chosen.length) {
      let j = i;
      while (j + 1 < chosen.length && position.get(chosen[j + 1].id) === position.get(chosen[j].id)! + 1) j++;
      const rows = read(chosen[i].id, chosen[j].id);
      for (let k = i; k <= j; k++) {
        const row = rows[k - i];
        if (row === undefined || row.id !== chosen[k].id) throw new Error(`batch ${chosen[k].id} vanished from the log while being forwarded`);
        out.push(make(chosen[k], row.lines));
      }
      i = j + 1;
    }
    return out;
  }

  /**
   * Sends the pieces until every line is delivered or dead-lettered (collected
   * in `deadLetters`, written with the cursor). Returns the points delivered.
   * Throws only when stopping. `whole`: these are the lines of a request as planned, not a part
   * of one being bisected.
   */
  async #deliver(
    destination: Destination,
    pieces: Piece[],
    deadLetters: NewDeadLetter[],
    suspectAfter = POISON_SUSPECT_FAILURES,
    compressed?: Promise<Buffer>,
    whole = false,
  ): Promise<number> {
    let points = countPoints(pieces);
    let failures = 0;
    let suspect = 0;
    let timeouts = 0;
    // The server's words (figures aside) when isolating a poison line found every line failing with them:
    // not a line's fault. The same words do not start another isolation; other words (the server has
    // recovered, and a line really is poison) do.
    let serverToBlame: string | undefined;
    let triedCreate = false;
    let body = compressed; // compressed once for all the retries
    for (;;) {
      const heldDestination = this.#heldDestinations.get(destination.key);
      if (heldDestination !== undefined && !heldDestination.draining) {
        this.#keepAside(pieces, heldDestination, deadLetters);
        return 0;
      }
      body ??= compressLines(bodyOf(pieces));
      const { answer, outcome } = await this.#send(destination, await body);
      switch (outcome.action) {
        case 'advance':
          this.#recover();
          if (failures > 0) this.#log?.info({ target: this.name, destination: destination.label, failures }, 'delivered after retrying');
          return points;
        case 'split':
        case 'bisect': {
          // A target that refuses even an empty write refuses everything, whatever the lines (a URL that
          // reaches another server: a TLS port, a proxy): bisecting would dead-letter every line, one
          // request each. The empty write's own answer decides instead.
          if (whole) {
            const probe = await this.#emptyWrite(destination);
            if (probe.outcome.action === 'retry') {
              failures++;
              this.#recordError(probe.answer, probe.outcome);
              await this.#wait(retryDelayMs(failures, this.#backoff, probe.outcome.retryAfter, this.#nowMs(), this.#random));
              break;
            }
            if (probe.outcome.action === 'hold' && DESTINATION_HOLDS.includes(probe.outcome.class)) {
              this.#keepAside(pieces, this.#holdDestination(probe.answer, probe.outcome, destination), deadLetters);
              return 0;
            }
            if (probe.outcome.action !== 'advance') {
              const [held, why] = probe.outcome.action === 'hold' ? [probe.answer, probe.outcome] : [answer, REFUSES_EVEN_EMPTY_WRITES];
              this.#hold(held, why, destination);
              await this.#wait(retryDelayMs(Infinity, this.#backoff, undefined, this.#nowMs(), this.#random));
              break;
            }
          }
          if (points > 1) return this.#deliverHalves(destination, pieces, deadLetters);
          this.#refuse(pieces, answer, outcome, deadLetters);
          return 0;
        }
        case 'retry': {
          failures++;
          this.#recordError(answer, outcome);
          if (failures === 1) {
            this.#log?.warn(
              { target: this.name, destination: destination.label, outcome: outcome.class, status: answerStatus(answer), error: answerText(answer) },
              'the target did not take the data; retrying with backoff (the data is kept)',
            );
          }
          timeouts = outcome.class === 'timeout' ? timeouts + 1 : 0;
          if (timeouts >= TIMEOUTS_BEFORE_SPLIT && points > 1) {
            this.#log?.warn(
              { target: this.name, destination: destination.label, points, timeouts },
              'the target did not answer in time twice: sending this request in halves',
            );
            await this.#wait(retryDelayMs(failures, this.#backoff, outcome.retryAfter, this.#nowMs(), this.#random));
            return this.#deliverHalves(destination, pieces, deadLetters, suspectAfter);
          }
          suspect = outcome.suspectContent && sameWords(answerText(answer)) !== serverToBlame ? suspect + 1 : 0;
          if (suspect >= suspectAfter) {
            suspect = 0;
            if (await this.#acceptsEmptyWrite(destination)) {
              if (points === 1) {
                this.#refuse(pieces, answer, outcome, deadLetters);
                return 0;
              }
              // Inside an episode (its halves probe after one failure): the episode's top level decides.
              if (suspectAfter !== POISON_SUSPECT_FAILURES) return this.#deliverHalves(destination, pieces, deadLetters, 1);
              // The episode's dead letters are kept apart until it is clear what they are. When many lines
              // all fail alone with a server error that explains itself, no poison line explains it (a full
              // disk refuses every write with points and accepts the empty probe): those lines are retried,
              // and only the lines refused for good (4xx) or held become dead letters. influxd's panic on a
              // poison line explains nothing ("Internal Server Error"): those lines are dead letters, as before.
              const episode: NewDeadLetter[] = [];
              const delivered = await this.#deliverHalves(destination, pieces, episode, 1);
              const failedOnServer = episode.filter((d) => d.held !== true && d.status !== null && d.status >= 500);
              if (delivered > 0 || points < POISON_EPISODE_MIN_POINTS || failedOnServer.length === 0 || failedOnServer.every((d) => GENERIC_SERVER_ERROR.test(d.error))) {
                deadLetters.push(...episode);
                return delivered;
              }
              deadLetters.push(...episode.filter((d) => !failedOnServer.includes(d)));
              serverToBlame = sameWords(failedOnServer[0].error);
              pieces = failedOnServer.map(pieceOfDeadLetter);
              points = countPoints(pieces);
              body = undefined; // these lines, compressed again
              this.#log?.warn(
                { target: this.name, destination: destination.label, points, status: answerStatus(answer), error: failedOnServer[0].error },
                'every line failed on its own with a server error: not a poison line; retrying them (the data is kept)',
              );
            }
          }
          await this.#wait(retryDelayMs(failures, this.#backoff, outcome.retryAfter, this.#nowMs(), this.#random));
          break;
        }
        case 'hold': {
          if (outcome.class === 'database_not_found' && this.target.createDatabase && destination.database !== undefined && !triedCreate) {
            triedCreate = true;
            if (await this.#createDatabase(destination.database)) break;
          }
          if (DESTINATION_HOLDS.includes(outcome.class)) {
            this.#keepAside(pieces, this.#holdDestination(answer, outcome, destination), deadLetters);
            return 0;
          }
          this.#hold(answer, outcome, destination);
          await this.#wait(retryDelayMs(Infinity, this.#backoff, undefined, this.#nowMs(), this.#random));
          break;
        }
      }
    }
  }

  async #deliverHalves(destination: Destination, pieces: Piece[], deadLetters: NewDeadLetter[], suspectAfter = POISON_SUSPECT_FAILURES): Promise<number> {
    const [first, second] = halve(pieces);
    const delivered = await this.#deliver(destination, first, deadLetters, suspectAfter);
    return delivered + (await this.#deliver(destination, second, deadLetters, suspectAfter));
  }

  async #send(destination: Destination, body: Buffer, classifyAnswer = classify): Promise<{ answer: Answer; outcome: Outcome }> {
    const started = performance.now();
    const answer = await this.#client.write(destination.path, body, this.#abort.signal);
    const outcome = classifyAnswer(answer);
    this.#metrics?.forwardSendDuration.observe({ target: this.name }, (performance.now() - started) / 1000);
    this.#metrics?.forwardRequests.inc({ target: this.name, outcome: outcome.class });
    return { answer, outcome };
  }

  /** An empty write to the destination: whether the target takes writes at all, whatever the lines. */
  async #emptyWrite(destination: Destination): Promise<{ answer: Answer; outcome: Outcome }> {
    return this.#send(destination, await compressLines(''), classifyEmptyWrite);
  }

  async #acceptsEmptyWrite(destination: Destination): Promise<boolean> {
    return (await this.#emptyWrite(destination)).outcome.action === 'advance';
  }

  async #createDatabase(database: string): Promise<boolean> {
    const answer = await this.#client.createDatabase(database, this.#abort.signal);
    const ok = answer.kind === 'response' && answer.status >= 200 && answer.status < 300;
    if (ok) this.#log?.info({ target: this.name, database }, 'created the database on the target (create_database = true)');
    else this.#log?.warn({ target: this.name, database, error: answerText(answer) }, 'CREATE DATABASE failed');
    return ok;
  }

  /** The target refused these lines for good (400/422/413 on one line, or a proven poison 500). */
  #refuse(pieces: readonly Piece[], answer: Answer, outcome: Outcome, deadLetters: NewDeadLetter[]): void {
    const status = answerStatus(answer);
    const error = answerText(answer);
    for (const piece of pieces) {
      deadLetters.push({ batchId: piece.batchId, db: piece.db, rp: piece.rp, lines: piece.text, points: piece.points, status, error });
    }
    this.#recordError(answer, outcome);
  }

  #hold(answer: Answer, outcome: Outcome, destination: Destination): void {
    const status = answerStatus(answer);
    const error = answerText(answer);
    if (this.#held === undefined || this.#held.outcome !== outcome.class || this.#held.error !== error) {
      this.#log?.error(
        { target: this.name, destination: destination.label, status, error, outcome: outcome.class },
        'the target refuses the data: keeping it and retrying slowly until the target or its configuration is fixed',
      );
    }
    this.#held = { outcome: outcome.class, status, error, sinceMs: this.#held?.sinceMs ?? this.#nowMs() };
    this.#recordError(answer, outcome);
  }

  /** The destination is missing on the target: hold it (not the target), and check it slowly from now on. */
  #holdDestination(answer: Answer, outcome: Outcome, destination: Destination): HeldDestination {
    // An answer about one destination (403, database not found) means the target took our credentials: a hold
    // of the whole target (401) is over, or /health would go on blaming the credentials an operator has fixed.
    if (this.#held !== undefined) {
      this.#log?.info({ target: this.name, heldForMs: this.#nowMs() - this.#held.sinceMs }, 'the target takes our credentials again; one destination is refused');
      this.#held = undefined;
    }
    let held = this.#heldDestinations.get(destination.key);
    if (held === undefined) {
      held = { destination, outcome: outcome.class, status: answerStatus(answer), error: answerText(answer), sinceMs: this.#nowMs(), ready: false, draining: false };
      this.#heldDestinations.set(destination.key, held);
      this.#log?.error(
        { target: this.name, destination: destination.label, status: held.status, error: held.error, outcome: outcome.class },
        'the target lacks this destination: its lines are kept as held dead letters and sent by themselves once it accepts writes; the other destinations go on',
      );
      void this.#watch(held);
    }
    this.#recordError(answer, outcome);
    return held;
  }

  /** Moves the lines of a held destination to the dead letters, marked held, in arrival order. */
  #keepAside(pieces: readonly Piece[], held: HeldDestination, deadLetters: NewDeadLetter[]): void {
    for (const piece of pieces) {
      deadLetters.push({ batchId: piece.batchId, db: piece.db, rp: piece.rp, lines: piece.text, points: piece.points, status: held.status, error: held.error, held: true });
    }
  }

  /** Checks a held destination every retry_max_ms with an empty write until it accepts one; then releases it. */
  async #watch(held: HeldDestination): Promise<void> {
    const signal = this.#abort.signal;
    // Until the destination is released: a release that failed (a full store) or had to wait for the
    // destination's newer batches is tried again here, not only after a round that happens to send.
    while (this.#heldDestinations.get(held.destination.key) === held) {
      try {
        await sleep(retryDelayMs(Infinity, this.#backoff, undefined, this.#nowMs(), this.#random), undefined, { signal });
        if (!held.ready) {
          if (!(await this.#checks.add(() => this.#destinationAccepts(held), { signal }))) continue;
          held.ready = true;
          this.#log?.info({ target: this.name, destination: held.destination.label }, 'the target accepts writes to the held destination again: re-queuing its held dead letters');
        }
        // Between rounds: no lane is sending, and the cursor is where the last round left it.
        const drained = await this.#queue.add(async () => {
          if (signal.aborted) return false;
          const released = this.#release();
          const sent = !released && this.#heldDestinations.get(held.destination.key) === held && (await this.#drainHeld(held));
          this.wake();
          return sent;
        });
        // While held lines are being sent, the next request goes as soon as the rounds waiting before it have run.
        while (drained === true && this.#heldDestinations.get(held.destination.key) === held && !signal.aborted) {
          if (!(await this.#queue.add(async () => !signal.aborted && (await this.#drainHeld(held))))) break;
          this.wake();
        }
      } catch (err) {
        if (signal.aborted) return;
        held.ready = false; // probed again before the next try
        this.#log?.error({ err, target: this.name, destination: held.destination.label }, 'checking or releasing a held destination failed; trying again');
      }
    }
  }

  /**
   * Sends the oldest held lines of a ready destination (up to one request's budget) straight from the dead
   * letters, and deletes what the target took or refused for good; when none is left, ends the hold. Runs
   * between rounds, so no round keeps lines aside meanwhile, and every batch of the destination still after
   * the cursor is newer than what is sent here. Returns whether it made progress.
   */
  async #drainHeld(held: HeldDestination): Promise<boolean> {
    const { key } = held.destination;
    const chosen: DeadLetter[] = [];
    let points = 0;
    let bytes = 0;
    let all = true; // every held line of the destination is in `chosen`
    // Its ids first, without lines, then its own lines a few at a time: read with their lines, the target's
    // other held destinations (each dead letter up to a request's bytes) passed through memory on every call.
    const ids = this.#heldIdsOf(key);
    choosing: for (;;) {
      const pageIds: number[] = [];
      while (pageIds.length < DRAIN_PAGE_ROWS) {
        const next = ids.next();
        if (next.done === true) break;
        pageIds.push(next.value);
      }
      if (pageIds.length === 0) break;
      for (const d of this.#store.listDeadLetters({ ids: pageIds, target: this.name, held: true }, pageIds.length)) {
        if (points >= this.#budget.maxPoints || bytes >= this.#budget.maxBytes) {
          all = false;
          break choosing;
        }
        chosen.push(d);
        points += d.points;
        bytes += Buffer.byteLength(d.lines, 'utf8');
      }
    }
    const release = (): true => {
      // Still between rounds: nothing was kept aside since the lines were chosen, so every line of the
      // destination not yet delivered is in a batch after the cursor, newer than all of them.
      this.#heldDestinations.delete(key);
      this.#log?.info({ target: this.name, destination: held.destination.label, heldForMs: this.#nowMs() - held.sinceMs }, 'the held destination is released: its held lines were sent');
      return true;
    };
    if (chosen.length === 0) return release();
    const pieces = chosen.map(pieceOfDeadLetter);
    const refused: NewDeadLetter[] = [];
    held.draining = true;
    let delivered: number;
    try {
      delivered = await this.#deliver(held.destination, pieces, refused, POISON_SUSPECT_FAILURES, undefined, true);
    } finally {
      held.draining = false;
    }
    if (refused.some((d) => d.held === true)) {
      held.ready = false; // refused again as a whole: nothing changes, the watch probes again
      return false;
    }
    this.#store.settleHeldDeadLetters(this.name, chosen.map((d) => d.id), refused, this.#nowMs(), delivered > 0);
    // Held lines sent from the dead letters are refused like any others: said so, not only counted.
    this.#warnRefused(refused, delivered);
    if (delivered > 0) this.#metrics?.forwardPointsDelivered.inc({ target: this.name }, delivered);
    const refusedPoints = refused.reduce((sum, d) => sum + d.points, 0);
    if (refusedPoints > 0) this.#metrics?.forwardPointsDeadLettered.inc({ target: this.name }, refusedPoints);
    return all ? release() : true;
  }

  /** The ids of the destination's held dead letters, oldest first, read a page at a time as they are taken. */
  *#heldIdsOf(key: string): Generator<number, void, undefined> {
    for (let afterId = 0; ; ) {
      const page = this.#store.heldDeadLetterKeys(this.name, afterId, HELD_KEYS_PAGE);
      for (const d of page) if (this.#route(d.db, d.rp)?.key === key) yield d.id;
      if (page.length < HELD_KEYS_PAGE) return;
      afterId = page[page.length - 1].id;
    }
  }

  async #destinationAccepts(held: HeldDestination): Promise<boolean> {
    const { destination } = held;
    if (held.outcome === 'database_not_found' && this.target.createDatabase && destination.database !== undefined) {
      await this.#createDatabase(destination.database);
    }
    const { answer, outcome } = await this.#emptyWrite(destination);
    if (outcome.action === 'advance') return true;
    if (outcome.action === 'hold' && DESTINATION_HOLDS.includes(outcome.class)) {
      held.outcome = outcome.class;
      held.status = answerStatus(answer);
      held.error = answerText(answer);
    }
    return false;
  }

  /**
   * Re-queues the held dead letters of every destination found accepting writes,
   * once none of its batches waits after the cursor (they would otherwise overtake
   * those, which arrived earlier). Runs between rounds only. Returns whether any was released.
   */
  #release(): boolean {
    let released = false;
    for (const held of [...this.#heldDestinations.values()]) {
      if (!held.ready) continue;
      const key = held.destination.key;
      const requeued = this.#store.transaction(() => {
        const pending = this.#store.readBatchHeadsAfter(this.#cursor, RELEASE_LOOKAHEAD);
        if (pending.length === RELEASE_LOOKAHEAD || pending.some((h) => this.#takes(h) && this.#route(h.db, h.rp)?.key === key)) return undefined;
        const ids: number[] = [];
        for (const id of this.#heldIdsOf(key)) {
          // A long hold's lines are sent from the dead letters a request at a time instead (#drainHeld): copied
          // back into the log in this one transaction, 1.1 GB blocked the event loop for 13 s.
          if (ids.push(id) > RELEASE_MAX_DEAD_LETTERS) return undefined;
        }
        if (ids.length === 0) return 0;
        return this.#store.replayDeadLetters({ ids, target: this.name, held: true }, this.#nowMs()).get(this.name)?.length ?? 0;
      });
      if (requeued === undefined) continue; // after the next round
      this.#heldDestinations.delete(key);
      released = true;
      this.#log?.info({ target: this.name, destination: held.destination.label, batches: requeued, heldForMs: this.#nowMs() - held.sinceMs }, 'the held destination is released: its lines are queued again');
    }
    return released;
  }

  #recover(): void {
    if (this.#held === undefined) return;
    this.#log?.info({ target: this.name, heldForMs: this.#nowMs() - this.#held.sinceMs }, 'the target accepts data again');
    this.#held = undefined;
  }

  #recordError(answer: Answer, outcome: Outcome): void {
    this.#store.recordTargetError(this.name, {
      atMs: this.#nowMs(),
      status: answerStatus(answer),
      outcome: outcome.class,
      error: answerText(answer),
    });
  }

  /** A retry wait; ends the round at once when the relay stops (nothing is lost: the cursor did not move). */
  async #wait(ms: number): Promise<void> {
    if (this.#stopping) throw new StopError('stopping instead of waiting to retry');
    this.#waiting++;
    try {
      await sleep(ms, undefined, { signal: this.#abort.signal });
    } finally {
      this.#waiting--;
    }
  }
}

/** A round read and planned ahead of its turn; nothing of it is in the store yet. */
interface PreparedRound {
  /** The cursor after this round. */
  readonly lastId: number;
  readonly passed: readonly PassedTotals[];
  readonly more: boolean;
  /** Empty when the round only passes over batches for other databases. */
  readonly lanes: ReadonlyArray<ReadonlyArray<Request<Destination> & { readonly body: Promise<Buffer> }>>;
}

/** The promise as is, with a handler so that a round abandoned by a stop leaves no unhandled rejection. */
function ignoreRejection<T>(promise: Promise<T>): Promise<T> {
  promise.catch(() => undefined);
  return promise;
}

class StopError extends Error {
  override readonly name = 'StopError';
}

/** The lines of a dead letter (held, or refused during an isolation) as a piece to send again. */
function pieceOfDeadLetter(d: NewDeadLetter): Piece {
  return pieceOf({ id: d.batchId, db: d.db, rp: d.rp, points: d.points, bytes: Buffer.byteLength(d.lines, 'utf8') }, d.lines);
}
