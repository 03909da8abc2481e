// `certrelay dead-letters replay`: puts dead letters back in the log for their
// own target (store.replayDeadLetters), then watches the running relay's
// cursors pass them and reports what came back refused. The CLI never sends
// anything itself: the relay's forwarder does, with its usual batching and rules.
import { setTimeout as sleep } from 'node:timers/promises';
import type { Config, TargetConfig } from '../config/defaults.js';
import { routeFor } from '../forward/routing.js';
import { readTargetStatus } from '../forward/status.js';
import { StoreLock } from '../log/store-lock.js';
import type { DeadLetter, DeadLetterFilter, Store } from '../log/store.js';
import { eachDeadLetter, plural, requireDeadLetters } from './dead-letters.js';
import { formatChosenDuration } from './duration.js';
import { CommandFailed, EXIT, writeJson, type CliIo } from './output.js';
import { ProgressBar } from './progress.js';
import { targetState } from './status.js';
import { printable } from './table.js';

/** The relay re-reads the log at least once a second; a tenth of that keeps the wait short and cheap. */
const POLL_MS = 100;

export interface ReplayRequest {
  readonly target?: string;
  readonly ids: readonly number[];
  readonly wait: boolean;
  readonly timeoutMs: number;
}

/** `replay --json`: the fields documented in docs/operations.md. */
export interface ReplayJson {
  /** Dead letters put back in the log (each is one new batch for its own target). */
  readonly requeued: number;
  readonly requeuedPoints: number;
  readonly waited: boolean;
  readonly timedOut: boolean;
  readonly interrupted: boolean;
  /** Requeued dead letters the relay has sent again (its cursor passed them), delivered or refused. */
  readonly resent: number;
  /** New dead letters made of replayed lines: the target refused them again. */
  readonly refusedAgain: number;
  readonly targets: readonly ReplayTargetJson[];
  /** Matching dead letters left alone, with the reason. */
  readonly skipped: ReadonlyArray<{ readonly id: number; readonly target: string; readonly reason: string }>;
}

export interface ReplayTargetJson {
  readonly target: string;
  readonly requeued: number;
  readonly points: number;
  readonly batchIds: readonly number[];
  readonly resent: number;
  readonly newDeadLetterIds: readonly number[];
}

interface Pending {
  readonly target: string;
  readonly batchIds: readonly number[];
  readonly points: number;
  resent: number;
  newDeadLetterIds: number[];
  /** Those of newDeadLetterIds the relay kept aside unsent (it still holds their database): not refused by the target. */
  heldAgain: DeadLetter[];
}

export async function runReplay(io: CliIo, store: Store, config: Config, request: ReplayRequest, json: boolean): Promise<number> {
  requireDeadLetters(store, request.ids, 'nothing was replayed');
  const configured = new Map(config.targets.map((t) => [t.name, t]));
  if (request.target !== undefined && !configured.has(request.target)) {
    throw new CommandFailed(
      `target ${JSON.stringify(request.target)} is not configured, so no relay would send its dead letters: ` +
        `add it back to the configuration, or delete them with certrelay dead-letters purge --target ${request.target}`,
    );
  }

  const filter: DeadLetterFilter = {
    ...(request.ids.length > 0 && { ids: request.ids }),
    ...(request.target !== undefined && { target: request.target }),
  };
  const replayable: Array<{ readonly id: number; readonly bytes: number }> = [];
  const skipped: Array<{ id: number; target: string; reason: string }> = [];
  let highestId = 0;
  for (const d of eachDeadLetter(store, filter)) {
    highestId = Math.max(highestId, d.id);
    const reason = whyNotReplayable(store, configured.get(d.target), d);
    if (reason === undefined) replayable.push({ id: d.id, bytes: Buffer.byteLength(d.lines, 'utf8') });
    else skipped.push({ id: d.id, target: d.target, reason });
  }
  for (const s of skipped) io.stderr.write(`certrelay: skipped dead letter ${s.id} of ${s.target}: ${s.reason}\n`);
  if (replayable.length === 0) {
    const report = emptyReport(skipped);
    if (json) writeJson(io, report);
    if (skipped.length > 0) throw new CommandFailed('none of the matching dead letters can be replayed: see the reasons above');
    if (!json) io.stdout.write('no dead letters match: nothing to replay\n');
    return EXIT.ok;
  }

  const startedMs = io.nowMs();
  const { pending, stoppedEarly } = await requeue(store, replayable, startedMs, io.interrupted);
  const requeued = pending.reduce((sum, p) => sum + p.batchIds.length, 0);
  const requeuedPoints = pending.reduce((sum, p) => sum + p.points, 0);
  if (!json && requeued > 0) {
    const perTarget = pending.map((p) => `${p.target} ${p.batchIds.length}`).join(', ');
    io.stdout.write(`re-queued ${plural(requeued, 'dead letter')} (${plural(requeuedPoints, 'point')}): ${perTarget}\n`);
  }
  // Another replay (or a purge) took them between the listing and their transaction.
  if (requeued === 0 && !stoppedEarly) {
    if (json) writeJson(io, emptyReport(skipped));
    else io.stdout.write('no dead letters left to replay: another replay or purge took them meanwhile (certrelay status shows their progress)\n');
    return EXIT.ok;
  }
  // Ctrl-C while re-queuing: what is done stays done, chunk by chunk, and the rest is left as it was.
  if (stoppedEarly) {
    if (json) writeJson(io, report(pending, skipped, { waited: false, timedOut: false, interrupted: true }));
    io.stderr.write(
      `certrelay: stopped at Ctrl-C after re-queuing ${requeued} of ${plural(replayable.length, 'dead letter')}: those are back in the log ` +
        'and the relay sends them; the others stay dead letters (certrelay dead-letters replay again sends them)\n',
    );
    return EXIT.interrupted;
  }
  // Known not to run (false), or unknown (undefined: then wait, and the timeout tells).
  const relayRunning = StoreLock.isHeld(config.store.path) !== false;
  if (!request.wait) {
    if (json) writeJson(io, report(pending, skipped, { waited: false, timedOut: false, interrupted: false }));
    else if (relayRunning) io.stdout.write('not waiting: the running relay sends them within about a second; certrelay status shows its progress\n');
    else io.stdout.write('not waiting: no relay is running on this store; it sends them when it starts (certrelay status shows its progress)\n');
    return EXIT.ok;
  }
  if (!relayRunning) {
    if (json) writeJson(io, report(pending, skipped, { waited: false, timedOut: false, interrupted: false }));
    throw new CommandFailed(
      'no relay is running on this store, so nothing sends them now: they stay queued, and the relay sends them when it starts ' +
        '(certrelay status shows its progress)',
    );
  }

  const { relayStopped, ...outcome } = await waitForCursors(io, store, pending, request.timeoutMs, () => StoreLock.isHeld(config.store.path));
  findRefusedAgain(store, pending, highestId);
  const result = report(pending, skipped, { waited: true, ...outcome });
  const elapsed = `${((io.nowMs() - startedMs) / 1000).toFixed(1)}s`;
  if (json) writeJson(io, result);
  else io.stdout.write(`${summary(result, elapsed, pending.flatMap((p) => p.heldAgain))}\n`);

  if (outcome.interrupted) {
    io.stderr.write('certrelay: stopped waiting; what is not sent yet stays queued and the relay sends it (certrelay status)\n');
    return EXIT.interrupted;
  }
  if (relayStopped) {
    throw new CommandFailed(
      `the relay stopped while the command waited (no relay has held the store for ${formatChosenDuration(RELAY_GONE_MS)}), with ` +
        `${result.resent} of ${result.requeued} sent again: the rest stay queued, and the relay sends them when it starts (certrelay status shows its progress)`,
    );
  }
  if (outcome.timedOut) {
    const waitingFor = pending.filter((p) => p.resent < p.batchIds.length).map((p) => whyWaiting(store, config, p.target, io.nowMs()));
    throw new CommandFailed(
      `timed out after ${formatChosenDuration(request.timeoutMs)} with ${result.resent} of ${result.requeued} sent again: ${waitingFor.join('; ')}. ` +
        'The rest stay queued and the relay sends them once the target takes data (certrelay status)',
    );
  }
  const heldAgain = pending.flatMap((p) => p.heldAgain);
  const heldIds = new Set(heldAgain.map((d) => d.id));
  const ids = pending.flatMap((p) => p.newDeadLetterIds).filter((id) => !heldIds.has(id));
  const failures: string[] = [];
  if (ids.length > 0) {
    const first = store.deadLetter(ids[0]);
    const why = first === undefined ? '' : ` (${first.status === null ? '' : `HTTP ${first.status}: `}${printable(first.error)})`;
    failures.push(
      `the target refused lines again${why}; they are back as dead letter${ids.length === 1 ? '' : 's'} ${idRanges(ids)}: ` +
        `fix the target or the data, then replay again (certrelay dead-letters show ${ids[0]} has the details)`,
    );
  }
  if (heldAgain.length > 0) failures.push(heldAgainMessage(heldAgain, config));
  if (failures.length > 0) throw new CommandFailed(failures.join('; and '));
  return EXIT.ok;
}

/** Why no relay would send this dead letter again, or undefined when one would. */
function whyNotReplayable(store: Store, target: TargetConfig | undefined, d: DeadLetter): string | undefined {
  if (target === undefined) return 'target not configured: purge it, or add the target back';
  // A cursor is created at the end of the log when the relay starts with the target: it would pass over the lines.
  if (store.cursor(d.target) === undefined) {
    return 'the relay has not run with this target yet: start (or restart) it with this configuration, then replay';
  }
  // The forwarder passes over batches of databases the target does not take.
  if (routeFor(target, d.db, d.rp) === undefined) {
    return `the target no longer takes database ${JSON.stringify(d.db)} (targets[].databases): purge it, or add the database back`;
  }
  return undefined;
}

/** What a target's replayed lines wait for, from what the store knows. */
function whyWaiting(store: Store, config: Config, target: string, nowMs: number): string {
  const targetConfig = config.targets.find((t) => t.name === target);
  if (targetConfig === undefined) return `${target} is not configured`;
  const s = readTargetStatus(store, targetConfig, nowMs);
  const answer = `${s.lastStatus === null ? '' : `HTTP ${s.lastStatus} `}${s.lastOutcome ?? ''}: ${printable(s.lastError ?? '')}`;
  switch (targetState(s)) {
    case 'held':
      return `${target} refuses everything (${answer})`;
    case 'retrying':
      return `${target} is retrying after ${answer}`;
    case 'ok':
      return `${target} has not taken them (is the relay running?)`;
    case 'new':
      return `the relay has not run with ${target} yet`;
  }
}

/**
 * Lines re-queued per transaction, and the pause after each. SQLite has one writer: the running relay's
 * commits (its clients' writes) wait for these transactions, its event loop blocked, and fail after its 5 s
 * busy timeout. One transaction for a long hold's gigabyte of dead letters held them that long; transactions
 * back to back would starve them too, as a waiting writer only looks again every 100 ms or so.
 */
const REQUEUE_CHUNK_BYTES = 4 * 1024 * 1024;
// And dead letters per transaction: the store finds each of its rows among the chunk's ids, so 4 MiB of
// one-line dead letters (131,072 of them) held the write lock for 20 s, and the relay's writes got 500.
const REQUEUE_CHUNK_DEAD_LETTERS = 2000;
const REQUEUE_PAUSE_MS = 100;

/**
 * Replays exactly these dead letters, a chunk per transaction (each dead letter is a batch again, or still a
 * dead letter); what was queued, per target. Stops between chunks once `interrupted` is aborted: a hold's
 * gigabyte takes a minute or more, and Ctrl-C must not be ignored that long.
 */
async function requeue(
  store: Store,
  deadLetters: ReadonlyArray<{ readonly id: number; readonly bytes: number }>,
  nowMs: number,
  interrupted: AbortSignal | undefined,
): Promise<{ pending: Pending[]; stoppedEarly: boolean }> {
  const byTarget = new Map<string, { target: string; batchIds: number[]; points: number; resent: number; newDeadLetterIds: number[]; heldAgain: DeadLetter[] }>();
  for (let start = 0; start < deadLetters.length; ) {
    let end = start + 1;
    for (
      let bytes = deadLetters[start].bytes;
      end < deadLetters.length && end - start < REQUEUE_CHUNK_DEAD_LETTERS && bytes + deadLetters[end].bytes <= REQUEUE_CHUNK_BYTES;
      end++
    ) {
      bytes += deadLetters[end].bytes;
    }
    if (start > 0) await sleep(REQUEUE_PAUSE_MS);
    if (interrupted?.aborted === true) return { pending: [...byTarget.values()], stoppedEarly: true };
    const chunk = store.replayDeadLetters({ ids: deadLetters.slice(start, end).map((d) => d.id) }, nowMs);
    start = end;
    const all = [...chunk.values()].flat();
    if (all.length === 0) continue;
    // One IMMEDIATE transaction wrote the chunk, so its ids are consecutive: one read gets their sizes.
    // (Not Math.min(...all): 4 MiB of one-line dead letters are 131,072 ids, past what a call's arguments hold.)
    const first = all.reduce((a, b) => Math.min(a, b));
    const points = new Map(store.readBatchHeadsAfter(first - 1, all.length).map((h) => [h.id, h.points]));
    for (const [target, batchIds] of chunk) {
      const pending = byTarget.get(target) ?? { target, batchIds: [], points: 0, resent: 0, newDeadLetterIds: [], heldAgain: [] };
      for (const id of batchIds) pending.batchIds.push(id);
      pending.points += batchIds.reduce((sum, id) => sum + (points.get(id) ?? 0), 0);
      byTarget.set(target, pending);
    }
  }
  return { pending: [...byTarget.values()], stoppedEarly: false };
}

/**
 * How long the store's lock must stay free before the wait ends as "the relay stopped": a restart takes the
 * lock again sooner, and nothing is sent meanwhile, so waiting out a --timeout of minutes would be for nothing.
 */
const RELAY_GONE_MS = 5000;

async function waitForCursors(
  io: CliIo,
  store: Store,
  pending: Pending[],
  timeoutMs: number,
  relayRunning: () => boolean | undefined,
): Promise<{ timedOut: boolean; interrupted: boolean; relayStopped: boolean }> {
  const total = pending.reduce((sum, p) => sum + p.batchIds.length, 0);
  const bar = new ProgressBar(io.stderr, { label: 'replaying', total, unit: 'dead letters', nowMs: io.nowMs });
  const deadline = io.nowMs() + timeoutMs;
  let lockFreeSinceMs: number | undefined;
  try {
    for (;;) {
      let resent = 0;
      for (const p of pending) {
        const cursor = store.cursor(p.target);
        if (cursor === undefined) {
          throw new CommandFailed(
            `the relay dropped target ${p.target} from the store (it was restarted without it), so it will not send the replayed lines: ` +
              'add the target back and restart the relay, then replay the lines anew from your own copy',
          );
        }
        p.resent = p.batchIds.filter((id) => id <= cursor).length;
        resent += p.resent;
      }
      bar.update(resent);
      if (resent === total) return { timedOut: false, interrupted: false, relayStopped: false };
      if (io.nowMs() >= deadline) return { timedOut: true, interrupted: false, relayStopped: false };
      // Unknown (undefined) counts as running, as before the wait.
      if (relayRunning() !== false) lockFreeSinceMs = undefined;
      else if (lockFreeSinceMs === undefined) lockFreeSinceMs = io.nowMs();
      else if (io.nowMs() - lockFreeSinceMs >= RELAY_GONE_MS) return { timedOut: false, interrupted: false, relayStopped: true };
      try {
        await sleep(POLL_MS, undefined, io.interrupted === undefined ? {} : { signal: io.interrupted });
      } catch {
        return { timedOut: false, interrupted: true, relayStopped: false };
      }
    }
  } finally {
    bar.finish();
  }
}

/** New dead letters of the replayed batches; they are newer than every dead letter that was replayed. */
function findRefusedAgain(store: Store, pending: Pending[], afterId: number): void {
  for (const p of pending) {
    const batchIds = new Set(p.batchIds);
    p.newDeadLetterIds = [...eachDeadLetter(store, { target: p.target }, afterId)].filter((d) => batchIds.has(d.batchId)).map((d) => d.id);
    p.heldAgain = [...eachDeadLetter(store, { target: p.target, held: true }, afterId)].filter((d) => batchIds.has(d.batchId));
  }
}

/**
 * Replayed lines of a destination the relay still holds (its check, every retry_max_ms, has not yet found the
 * database accepting writes) are kept aside again without a send: the target refused nothing, it was not asked.
 */
function heldAgainMessage(heldAgain: readonly DeadLetter[], config: Config): string {
  const [first] = heldAgain;
  const destinations = [...new Set(heldAgain.map((d) => (d.rp === '' ? d.db : `${d.db}/${d.rp}`)))].map((label) => JSON.stringify(label));
  const retryMaxMs = config.targets.find((t) => t.name === first.target)?.retryMaxMs;
  const every = retryMaxMs === undefined ? 'retry_max_ms' : `retry_max_ms, ${formatChosenDuration(retryMaxMs)}`;
  return (
    `the relay still holds ${destinations.join(', ')} for ${first.target} (last answer: ${first.status === null ? '' : `HTTP ${first.status}: `}` +
    `${printable(first.error)}), so it kept ${plural(heldAgain.length, 'replayed dead letter')} aside again without sending ` +
    `${heldAgain.length === 1 ? 'it' : 'them'} (held dead letter${heldAgain.length === 1 ? '' : 's'} ${idRanges(heldAgain.map((d) => d.id))}). ` +
    `It checks the destination every ${every}, and sends held lines by itself once the target accepts writes to it: ` +
    'no replay is needed (certrelay status shows the hold)'
  );
}

/** Ids as runs: "3, 7-9" (a replay of thousands would print each). */
function idRanges(ids: readonly number[]): string {
  const sorted = [...ids].sort((a, b) => a - b);
  const runs: string[] = [];
  for (let i = 0; i < sorted.length; ) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j] + 1) j++;
    runs.push(j === i ? String(sorted[i]) : `${sorted[i]}-${sorted[j]}`);
    i = j + 1;
  }
  return runs.join(', ');
}

function report(
  pending: readonly Pending[],
  skipped: ReplayJson['skipped'],
  how: { waited: boolean; timedOut: boolean; interrupted: boolean },
): ReplayJson {
  return {
    requeued: pending.reduce((sum, p) => sum + p.batchIds.length, 0),
    requeuedPoints: pending.reduce((sum, p) => sum + p.points, 0),
    ...how,
    resent: pending.reduce((sum, p) => sum + p.resent, 0),
    refusedAgain: pending.reduce((sum, p) => sum + p.newDeadLetterIds.length, 0),
    targets: pending.map((p) => ({
      target: p.target,
      requeued: p.batchIds.length,
      points: p.points,
      batchIds: p.batchIds,
      resent: p.resent,
      newDeadLetterIds: p.newDeadLetterIds,
    })),
    skipped,
  };
}

function emptyReport(skipped: ReplayJson['skipped']): ReplayJson {
  return report([], skipped, { waited: false, timedOut: false, interrupted: false });
}

function summary(r: ReplayJson, elapsed: string, heldAgain: readonly DeadLetter[]): string {
  // Held again, they were not sent: the relay kept them aside without asking the target.
  const sentAgain = r.resent - heldAgain.length;
  const sent =
    sentAgain < r.requeued ? `sent ${sentAgain} of ${r.requeued} again` : r.requeued === 1 ? 'sent it again' : `sent all ${r.requeued} again`;
  const held = new Set(heldAgain.map((d) => d.id));
  const ids = r.targets.flatMap((t) => t.newDeadLetterIds).filter((id) => !held.has(id));
  const back =
    sentAgain === 0
      ? ''
      : ids.length === 0
        ? '; none came back as dead letters'
        : `; ${ids.length} came back as new dead letter${ids.length === 1 ? '' : 's'} (id ${idRanges(ids)})`;
  return `${sent} in ${elapsed}${back}${held.size === 0 ? '' : `; ${held.size} held again, unsent (id ${idRanges([...held])})`}`;
}
