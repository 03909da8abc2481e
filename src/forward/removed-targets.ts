// Each target's place in the log is its cursor, keyed by the target's name. A
// target missing from the configuration at start-up has its cursor forgotten,
// so that it no longer keeps batches in the store; with a backlog that would
// drop points it never received, silently (a renamed target is a removed one
// plus a new one that starts at the tail). Its held dead letters (lines kept
// aside while it lacked their database) are never delivered either: only its
// own forwarder sends them, and dead letters are keyed by the target's name too.
// So a start that would forget a backlog or held lines is refused, unless the
// operator names the target to forget.
import type { Store } from '../log/store.js';

/** A start that would forget points never delivered. Fatal at start-up (exit 78: the configuration must change). */
export class RemovedTargetBacklogError extends Error {
  override readonly name = 'RemovedTargetBacklogError';
}

export interface ForgottenTarget {
  readonly target: string;
  /** Received after its cursor, so never sent to it (some may be of databases it did not take). */
  readonly points: number;
  readonly batches: number;
  /** In its held dead letters: kept aside for it, never delivered; they stay listed, but no relay sends them. */
  readonly heldPoints: number;
}

/**
 * Forgets the cursors of targets no longer configured, after checking that none
 * has a backlog unless named in `forget`. With no targets configured nothing is
 * forgotten: garbage collection does not run then, and the targets may come back.
 */
export function forgetRemovedTargets(store: Store, configured: readonly string[], forget: readonly string[] = []): ForgottenTarget[] {
  // Giving up a configured target's points is no operation there is: saying nothing would let the operator think it was done.
  const stillConfigured = forget.filter((name) => configured.includes(name));
  if (stillConfigured.length > 0) {
    throw new RemovedTargetBacklogError(
      `--forget-target ${stillConfigured.map((name) => `"${name}"`).join(', ')}: still configured. It gives up the points of a target ` +
        'removed from the configuration; remove the target first (or leave it, and it keeps sending them).',
    );
  }
  if (configured.length === 0) return [];
  const removed = store.cursorTargets().filter((name) => !configured.includes(name));
  const leftBehind: ForgottenTarget[] = removed.map((target) => {
    const { points, batches } = store.backlog(target);
    return { target, points, batches, heldPoints: store.heldPoints(target) };
  });
  const refused = leftBehind.filter((t) => (t.points > 0 || t.heldPoints > 0) && !forget.includes(t.target));
  if (refused.length > 0) {
    const each = refused.map((t) => `"${t.target}" (${describeUndelivered(t)})`).join(', ');
    throw new RemovedTargetBacklogError(
      `no longer configured, but with points received since their last delivery and never sent to them: ${each}. ` +
        "A target's name keys its place in the log: to keep sending them, put the target back under its old name. " +
        `To give them up for ${refused.length === 1 ? 'it' : 'them'}, start once with ${refused.map((t) => `--forget-target ${t.target}`).join(' ')}.`,
    );
  }
  store.retainCursors(configured);
  return leftBehind;
}

function describeUndelivered(t: ForgottenTarget): string {
  const parts: string[] = [];
  if (t.points > 0) parts.push(`${t.points} points in ${t.batches} ${t.batches === 1 ? 'batch' : 'batches'}`);
  if (t.heldPoints > 0) parts.push(`${t.heldPoints} points held as dead letters until their database exists`);
  return parts.join(', and ');
}
