// `certrelay status`: each configured target's delivery state, read from the
// store (readTargetStatus), as a table or as JSON. Never starts forwarding.
import type { Config } from '../config/defaults.js';
import type { OutcomeClass } from '../forward/classify.js';
import { heldDestinationsOf, readTargetStatus, type TargetStatus } from '../forward/status.js';
import type { Store } from '../log/store.js';
import { StoreLock } from '../log/store-lock.js';
import { formatAgo, formatDuration, formatTime, isoTime } from './duration.js';
import { writeJson, type CliIo } from './output.js';
import { formatBytes, formatTable, printable } from './table.js';

/**
 * ok: nothing suggests trouble. retrying: the last send failed in a way that
 * is retried (network, timeout, 5xx, 429) and nothing was delivered since.
 * held: the target refuses everything (401, 403, 404 …) until an operator acts.
 * new: the relay has not yet run with this target; it starts at the end of the log.
 */
export type TargetState = 'ok' | 'retrying' | 'held' | 'new';

/** One target in `status --json`: the fields documented in docs/operations.md. */
export interface TargetStatusJson {
  readonly name: string;
  readonly kind: string;
  readonly url: string;
  readonly state: TargetState;
  readonly heldBecause: OutcomeClass | null;
  /** When the hold concerns one database (bucket, retention policy): which, and since when; else null. */
  readonly heldDestination: HeldDestinationJson | null;
  readonly cursor: number;
  readonly backlogBatches: number;
  readonly backlogPoints: number;
  readonly backlogBytes: number;
  readonly oldestUnsentAt: string | null;
  readonly oldestUnsentAgeSeconds: number;
  readonly lastSuccessAt: string | null;
  readonly lastErrorAt: string | null;
  readonly lastStatus: number | null;
  readonly lastOutcome: OutcomeClass | null;
  readonly lastError: string | null;
  readonly deadLetters: number;
}

export interface HeldDestinationJson {
  /** `db`, `db/rp` (1.x) or the bucket (2.x), as the target names it. */
  readonly label: string;
  readonly status: number | null;
  readonly error: string;
  /** When its first line was set aside. */
  readonly since: string;
}

export interface StatusJson {
  readonly now: string;
  readonly store: string;
  /** Whether a relay holds the store (and so forwards); null when that cannot be told. */
  readonly relayRunning: boolean | null;
  readonly targets: readonly TargetStatusJson[];
  /** Dead letters of targets that are no longer configured. */
  readonly otherDeadLetters: number;
}

/** A target no longer configured whose points the store still keeps for it: the next start is refused (exit 78) until it is put back or forgotten. */
export interface RemovedTarget {
  readonly name: string;
  readonly backlogBatches: number;
  readonly backlogPoints: number;
  /** Points in its held dead letters, which only its own forwarder sends. */
  readonly heldPoints: number;
}

const RETRIED: readonly OutcomeClass[] = ['network', 'timeout', 'server_error', 'throttled'];

/** What an operator does about a held target. */
const HOLD_ADVICE: Partial<Record<OutcomeClass, string>> = {
  unauthorized: "fix the target's credentials (username/password or token)",
  forbidden: 'give the credentials write access to the database (or bucket)',
  database_not_found:
    "create the database (or bucket) on the target, or set create_database = true (if it is set, the target refused CREATE DATABASE: the relay's log says why)",
  retention_policy_not_found: 'create the retention policy on the target, or route around it with mapping',
  not_found: "check the target's url",
  unexpected: "check the target's url and any proxy in front of it",
};

/** An influxdb-v2 target has no create_database (the config refuses it): a missing bucket is created by hand. */
const V2_HOLD_ADVICE: Partial<Record<OutcomeClass, string>> = {
  database_not_found: 'create the bucket in InfluxDB 2 (in the org of targets[].org), or route to an existing one with mapping',
};

function holdAdvice(kind: string, outcome: OutcomeClass): string {
  return (kind === 'influxdb-v2' ? V2_HOLD_ADVICE[outcome] : undefined) ?? HOLD_ADVICE[outcome] ?? 'fix the target';
}

export function targetState(s: TargetStatus): TargetState {
  if (!s.started) return 'new';
  if (s.heldBecause !== null) return 'held';
  const failingSinceSuccess = s.lastErrorMs !== null && (s.lastSuccessMs === null || s.lastSuccessMs < s.lastErrorMs);
  if (failingSinceSuccess && s.lastOutcome !== null && RETRIED.includes(s.lastOutcome) && s.backlogBatches > 0) return 'retrying';
  return 'ok';
}

export function statusJson(store: Store, config: Config, nowMs: number): StatusJson {
  const statuses = config.targets.map((target) => readTargetStatus(store, target, nowMs));
  const configuredDeadLetters = statuses.reduce((sum, s) => sum + s.deadLetters, 0);
  return {
    now: new Date(nowMs).toISOString(),
    store: store.file,
    relayRunning: StoreLock.isHeld(config.store.path) ?? null,
    targets: statuses.map((s) => ({
      name: s.target,
      kind: s.kind,
      url: s.url,
      state: targetState(s),
      heldBecause: s.heldBecause,
      heldDestination:
        s.heldDestination === null
          ? null
          : { label: s.heldDestination.label, status: s.heldDestination.status, error: s.heldDestination.error, since: new Date(s.heldDestination.sinceMs).toISOString() },
      cursor: s.cursor,
      backlogBatches: s.backlogBatches,
      backlogPoints: s.backlogPoints,
      backlogBytes: s.backlogBytes,
      oldestUnsentAt: isoTime(s.oldestUnsentMs),
      oldestUnsentAgeSeconds: Math.floor(s.oldestUnsentAgeSeconds),
      lastSuccessAt: isoTime(s.lastSuccessMs),
      lastErrorAt: isoTime(s.lastErrorMs),
      lastStatus: s.lastStatus,
      lastOutcome: s.lastOutcome,
      lastError: s.lastError,
      deadLetters: s.deadLetters,
    })),
    otherDeadLetters: store.countDeadLetters() - configuredDeadLetters,
  };
}

/**
 * Targets taken out of (or renamed in) the configuration that still have points they never received: what
 * forgetRemovedTargets refuses at the next start. Told here first, before a restart finds it out.
 */
export function removedTargets(store: Store, config: Config): RemovedTarget[] {
  // With no targets at all the relay forgets no cursor (src/forward/removed-targets.ts).
  if (config.targets.length === 0) return [];
  const configured = new Set(config.targets.map((t) => t.name));
  return store
    .cursorTargets()
    .filter((name) => !configured.has(name))
    .map((name) => {
      const { batches, points } = store.backlog(name);
      return { name, backlogBatches: batches, backlogPoints: points, heldPoints: store.heldPoints(name) };
    })
    .filter((t) => t.backlogPoints > 0 || t.heldPoints > 0);
}

/** Held destinations named in the text, each on its own line, beyond heldDestination; the rest are counted. */
const MORE_HELD_LINES = 10;

/**
 * Every held destination of each target after the first (the one in heldDestination), oldest first: a target
 * missing several databases must show them all, or the operator creates one and only then learns of the next.
 */
export function moreHeldDestinations(store: Store, config: Config): Map<string, HeldDestinationJson[]> {
  const more = new Map<string, HeldDestinationJson[]>();
  for (const target of config.targets) {
    const others = heldDestinationsOf(store, target).slice(1);
    if (others.length === 0) continue;
    more.set(
      target.name,
      others.map((source) => ({
        label: source.label,
        status: source.status,
        error: source.error,
        since: new Date(source.sinceMs).toISOString(),
      })),
    );
  }
  return more;
}

export function formatStatus(
  status: StatusJson,
  moreHeld: ReadonlyMap<string, readonly HeldDestinationJson[]> = new Map(),
  removed: readonly RemovedTarget[] = [],
): string {
  const nowMs = Date.parse(status.now);
  if (status.targets.length === 0) {
    const other = status.otherDeadLetters > 0 ? `\n${otherDeadLettersNote(status.otherDeadLetters)}` : '';
    return `no targets configured: nothing is forwarded (store ${status.store})${other}`;
  }
  const ms = (iso: string | null) => (iso === null ? null : Date.parse(iso));
  const table = formatTable(
    [
      { header: 'TARGET' },
      { header: 'STATE' },
      { header: 'UNSENT POINTS', align: 'right' },
      { header: 'BATCHES', align: 'right' },
      { header: 'BYTES', align: 'right' },
      { header: 'OLDEST UNSENT', align: 'right' },
      { header: 'LAST SUCCESS', align: 'right' },
      { header: 'LAST ERROR', align: 'right' },
      { header: 'DEAD LETTERS', align: 'right' },
    ],
    status.targets.map((t) => [
      t.name,
      t.heldBecause === null ? t.state : `held: ${t.heldBecause}`,
      String(t.backlogPoints),
      String(t.backlogBatches),
      formatBytes(t.backlogBytes),
      t.oldestUnsentAt === null ? '-' : formatDuration(t.oldestUnsentAgeSeconds * 1000),
      formatAgo(ms(t.lastSuccessAt), nowMs),
      formatAgo(ms(t.lastErrorAt), nowMs),
      String(t.deadLetters),
    ]),
  );
  const at = (iso: string) => `${formatTime(ms(iso))} (${formatAgo(ms(iso), nowMs)})`;
  const notes = status.targets.flatMap((t) => {
    const advice = t.heldBecause === null ? '' : holdAdvice(t.kind, t.heldBecause);
    const lastError =
      t.lastErrorAt === null ? undefined : `${t.lastStatus === null ? '' : `HTTP ${t.lastStatus} `}${t.lastOutcome ?? 'error'}: ${printable(t.lastError ?? '')}`;
    const held = t.heldDestination;
    if (held !== null) {
      // One destination is held: its own refusal and age, not whatever the target last answered.
      const what = `${held.status === null ? '' : `HTTP ${held.status} `}${t.heldBecause ?? 'error'}: ${printable(held.error)}`;
      const note = `${t.name}: ${printable(held.label)} held since ${at(held.since)}: ${what}. Its lines wait as held dead letters and the other databases are delivered; ${advice}, and the relay resumes by itself.`;
      const others = moreHeld.get(t.name) ?? [];
      const shown = others.slice(0, MORE_HELD_LINES);
      const otherNotes = shown.map((o) => `${t.name}: ${printable(o.label)} held too since ${at(o.since)}: ${o.status === null ? '' : `HTTP ${o.status}: `}${printable(o.error)}.`);
      if (others.length > shown.length) {
        otherNotes.push(`${t.name}: and ${others.length - shown.length} more held databases (certrelay dead-letters list shows their lines).`);
      }
      const named = [held, ...shown].some((h) => h.error === t.lastError);
      return lastError === undefined || named ? [note, ...otherNotes] : [note, ...otherNotes, `${t.name}: last error ${at(t.lastErrorAt!)}: ${lastError}`];
    }
    if (t.state === 'new') {
      return [`${t.name}: new: the relay has not run with this target yet. It starts at the end of the log: what is stored now is not sent to it, only what arrives after the relay's next start.`];
    }
    if (lastError === undefined) return [];
    if (t.state === 'held') return [`${t.name}: held, last refused ${at(t.lastErrorAt!)}: ${lastError}. Data is kept; ${advice}, and the relay resumes by itself.`];
    return [`${t.name}: last error ${at(t.lastErrorAt!)}: ${lastError}`];
  });
  if (status.otherDeadLetters > 0) notes.push(otherDeadLettersNote(status.otherDeadLetters));
  for (const r of removed) notes.push(removedTargetNote(r));
  // The figures are the store's: without a relay nothing moves, whatever the states say.
  if (status.relayRunning === false) notes.unshift(`no relay is running on this store: nothing is forwarded until one starts (store ${status.store})`);
  return notes.length === 0 ? table : `${table}\n\n${notes.join('\n')}`;
}

function removedTargetNote(r: RemovedTarget): string {
  const undelivered = [
    ...(r.backlogPoints > 0 ? [`${r.backlogPoints} points in ${r.backlogBatches} ${r.backlogBatches === 1 ? 'batch' : 'batches'}`] : []),
    ...(r.heldPoints > 0 ? [`${r.heldPoints} points held as dead letters`] : []),
  ].join(' and ');
  return (
    `${r.name}: no longer configured, with ${undelivered} it never received: the relay's next start with this configuration ` +
    `is refused (exit 78) until the target is put back under this name, or given up with --forget-target ${r.name}`
  );
}

function otherDeadLettersNote(count: number): string {
  return (
    `${count} dead letter${count === 1 ? ' belongs' : 's belong'} to targets no longer configured: ` +
    'certrelay dead-letters list shows them, dead-letters purge --target T deletes them'
  );
}

export function runStatus(io: CliIo, store: Store, config: Config, json: boolean): number {
  const status = statusJson(store, config, io.nowMs());
  if (json) writeJson(io, status);
  else io.stdout.write(`${formatStatus(status, moreHeldDestinations(store, config), removedTargets(store, config))}\n`);
  return 0;
}
