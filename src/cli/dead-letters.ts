// `certrelay dead-letters list | show | purge`: the lines targets refused, read
// and deleted through the store. Replaying them is in replay.ts.
import type { Config } from '../config/defaults.js';
import type { DeadLetter, DeadLetterFilter, Store } from '../log/store.js';
import { formatAgo, formatTime } from './duration.js';
import { CommandFailed, writeJson, writeJsonList, type CliIo } from './output.js';
import { formatTable, printable } from './table.js';

/** One dead letter in --json output (list and show alike): the fields documented in docs/operations.md. */
export interface DeadLetterJson {
  readonly id: number;
  readonly target: string;
  /** The log batch the lines came from (already deleted once every target took it). */
  readonly batchId: number;
  readonly createdAt: string;
  /** The target's HTTP status; null when it never answered. */
  readonly status: number | null;
  /** The target's own error text. */
  readonly error: string;
  readonly db: string;
  /** '' = the database's default retention policy. */
  readonly rp: string;
  readonly points: number;
  /** Line protocol, "\n"-separated, nanosecond timestamps: what is sent on replay. */
  readonly lines: string;
  /** Not refused: kept aside while the target lacks the database (bucket, retention policy); the relay sends them by itself once it has it. */
  readonly held: boolean;
}

// Rows, each up to a forwarded request's lines (batch_max_bytes, 1 MiB by default): a page stays within tens of MB.
const PAGE = 64;
const ERROR_COLUMN_WIDTH = 72;
// A database name is a client's choice (influxd takes any length): long ones are cut here, `show` prints them whole.
const DATABASE_COLUMN_WIDTH = 40;

const HELD_NOTE =
  'not refused, but kept aside while the target lacks their database (bucket, retention policy); ' +
  'the relay sends them by itself once it has it (certrelay status), and a purge gives them up';

export function deadLetterJson(d: DeadLetter): DeadLetterJson {
  return {
    id: d.id,
    target: d.target,
    batchId: d.batchId,
    createdAt: new Date(d.createdAtMs).toISOString(),
    status: d.status,
    error: d.error,
    db: d.db,
    rp: d.rp,
    points: d.points,
    lines: d.lines,
    held: d.held,
  };
}

/** Every dead letter matching the filter, oldest first, read a page at a time. */
export function* eachDeadLetter(store: Store, filter: DeadLetterFilter, afterId = 0): Generator<DeadLetter> {
  for (let after = afterId; ; ) {
    const page = store.listDeadLetters(filter, PAGE, after);
    yield* page;
    if (page.length < PAGE) return;
    after = page[page.length - 1].id;
  }
}

/** Fails, naming the first, when any of the IDs is not a dead letter; nothing has been changed then. */
export function requireDeadLetters(store: Store, ids: readonly number[], nothingDone: string): void {
  const missing = ids.filter((id) => store.deadLetter(id) === undefined);
  if (missing.length > 0) {
    const list = missing.join(', ');
    throw new CommandFailed(
      `no dead letter with id ${list} (certrelay dead-letters list shows the ids; a replayed or purged one is gone): ${nothingDone}`,
    );
  }
}

export function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

const where = (db: string, rp: string) => (rp === '' ? db : `${db}/${rp}`);
// A held one's status is the target's answer about the database, not a refusal of the lines: said so in the row.
const statusText = (status: number | null, held: boolean) => `${status === null ? 'no answer' : String(status)}${held ? ' held' : ''}`;

export function runList(io: CliIo, store: Store, target: string | undefined, json: boolean): number {
  const filter = target === undefined ? {} : { target };
  // A page at a time, lines included only as far as the output needs them: dead letters can fill the store.
  if (json) {
    writeJsonList(io, 'deadLetters', eachDeadLetter(store, filter), deadLetterJson);
    return 0;
  }
  const letters = Array.from(eachDeadLetter(store, filter), ({ lines: _lines, ...head }) => head);
  if (letters.length === 0) {
    io.stdout.write(`no dead letters${target === undefined ? '' : ` for target ${target}`}\n`);
    return 0;
  }
  const table = formatTable(
    [
      { header: 'ID', align: 'right' },
      { header: 'TARGET' },
      { header: 'CREATED (UTC)' },
      { header: 'STATUS', align: 'right' },
      { header: 'POINTS', align: 'right' },
      { header: 'DATABASE', maxWidth: DATABASE_COLUMN_WIDTH },
      { header: 'ERROR', maxWidth: ERROR_COLUMN_WIDTH },
    ],
    letters.map((d) => [String(d.id), d.target, formatTime(d.createdAtMs), statusText(d.status, d.held), String(d.points), where(d.db, d.rp), d.error]),
  );
  const points = letters.reduce((sum, d) => sum + d.points, 0);
  const held = letters.filter((d) => d.held).length;
  io.stdout.write(
    `${table}\n\n${plural(letters.length, 'dead letter')} (${plural(points, 'point')}). ` +
      'certrelay dead-letters show ID prints its lines and the full error.\n' +
      (held === 0 ? '' : `${held} of them ${held === 1 ? 'is' : 'are'} held: ${HELD_NOTE}.\n`),
  );
  return 0;
}

export function runShow(io: CliIo, store: Store, config: Config, id: number, json: boolean): number {
  const d = store.deadLetter(id);
  if (d === undefined) {
    throw new CommandFailed(`no dead letter with id ${id}: certrelay dead-letters list shows the ids (a replayed or purged one is gone)`);
  }
  if (json) {
    writeJson(io, deadLetterJson(d));
    return 0;
  }
  const target = config.targets.find((t) => t.name === d.target);
  const rows: Array<[string, string]> = [
    ['target', target === undefined ? `${d.target} (no longer configured)` : `${d.target} (${target.kind} ${target.url})`],
    ['created', `${formatTime(d.createdAtMs)} (${formatAgo(d.createdAtMs, io.nowMs())})`],
    // Both come from a client's URL: control characters are shown, not sent to the terminal.
    ['database', printable(d.db)],
    ['retention', d.rp === '' ? '(the database default)' : printable(d.rp)],
    ['batch', String(d.batchId)],
    ['points', String(d.points)],
    ['status', d.status === null ? 'no answer' : `HTTP ${d.status}`],
    ...(d.held ? [['held', `yes: ${HELD_NOTE}`] as [string, string]] : []),
    ['error', printable(d.error)],
  ];
  const width = Math.max(...rows.map(([k]) => k.length));
  const header = rows.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join('\n');
  const lines = printable(d.lines, true);
  io.stdout.write(`dead letter ${d.id}\n${header}\nlines:\n${lines}${lines.endsWith('\n') ? '' : '\n'}`);
  return 0;
}

export interface PurgeRequest {
  readonly target?: string;
  readonly ids: readonly number[];
  readonly olderThanMs?: number;
  readonly all: boolean;
}

export function runPurge(io: CliIo, store: Store, request: PurgeRequest, json: boolean): number {
  requireDeadLetters(store, request.ids, 'nothing was purged');
  const filter: DeadLetterFilter = request.all
    ? {}
    : {
        ...(request.ids.length > 0 && { ids: request.ids }),
        ...(request.target !== undefined && { target: request.target }),
        ...(request.olderThanMs !== undefined && { createdBeforeMs: io.nowMs() - request.olderThanMs }),
      };
  // Held dead letters are acknowledged points waiting for a destination the target lacks, not refused lines.
  const held = store.countDeadLettersMatching({ ...filter, held: true });
  const purged = store.purgeDeadLetters(filter);
  if (json) writeJson(io, { purged, held });
  else if (purged === 0) io.stdout.write('no dead letters matched: nothing purged\n');
  else {
    io.stdout.write(`purged ${plural(purged, 'dead letter')}\n`);
    if (held > 0) {
      io.stdout.write(
        `${held} of them ${held === 1 ? 'was' : 'were'} held: points waiting for a database (bucket, retention policy) the target lacked, not lines it refused; they will not be delivered to it\n`,
      );
    }
  }
  return 0;
}
