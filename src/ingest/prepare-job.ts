// One write body, from bytes to what Intake needs to commit and answer: the
// stored text (accepted lines joined by "\n") and the refusals. When the body is
// ASCII and every line was accepted as received, the stored text is the body's
// own bytes: no string is built, and none crosses back from a worker. The same
// function runs on the main thread for small bodies and in a prepare worker
// for large ones, so both paths give the same answer. Plain data in and out:
// a job and its result cross a worker boundary by structured clone.
import type { ParseError } from '../line-protocol/point.js';
import type { StoredLines } from '../log/store.js';
import type { Precision } from '../line-protocol/precision.js';
import { decodeBody } from './decode-body.js';
import { prepareWrite, REPORTED_PROBLEMS_MAX, type PreparedWrite, type Rejection } from './prepare.js';
import type { RenewalObservation } from '../renewals/observation.js';
import { fromColumns, toColumns, type ObservationColumns } from '../renewals/observation-columns.js';
import type { SchemaRules } from './validate.js';

export interface PrepareJob {
  readonly body: Uint8Array;
  readonly precision: Precision;
  readonly nowNs: bigint;
  readonly rules: SchemaRules;
}

export interface PreparedBody {
  /** The accepted lines (bytes: a view of the body); '' when none. */
  readonly stored: StoredLines;
  /** How many lines `stored` holds. */
  readonly accepted: number;
  /** The first REPORTED_PROBLEMS_MAX of each kind, in line order; the counts below are complete. */
  readonly parseErrors: ParseError[];
  readonly typeConflicts: Rejection[];
  readonly schemaRejections: Rejection[];
  readonly parseErrorCount: number;
  readonly typeConflictCount: number;
  readonly schemaRejectionCount: number;
  /** The accepted certbot_renewal points, for the renewal state. */
  readonly renewals: RenewalObservation[];
}

export function prepareBody(job: PrepareJob): PreparedBody {
  const body = Buffer.from(job.body.buffer, job.body.byteOffset, job.body.byteLength);
  const { text, invalid } = decodeBody(body);
  const prepared = prepareWrite(text, { precision: job.precision, nowNs: job.nowNs, rules: job.rules });
  // Only the first few go back (from a worker) and into the answer: a 23 KB gzip body of 6 million
  // bad lines would otherwise be answered with 234 MB of error text, built on the main thread.
  const parseErrors =
    invalid.length === 0 ? prepared.parseErrors : [...invalid.slice(0, REPORTED_PROBLEMS_MAX), ...prepared.parseErrors].sort((a, b) => a.lineNumber - b.lineNumber).slice(0, REPORTED_PROBLEMS_MAX);
  return {
    stored: storedForm(body, text, prepared),
    accepted: prepared.accepted,
    parseErrors,
    typeConflicts: prepared.typeConflicts,
    schemaRejections: prepared.schemaRejections,
    parseErrorCount: prepared.parseErrorCount + invalid.length,
    typeConflictCount: prepared.typeConflictCount,
    schemaRejectionCount: prepared.schemaRejectionCount,
    renewals: prepared.renewals,
  };
}

function storedForm(body: Buffer, text: string, prepared: PreparedWrite): StoredLines {
  const span = prepared.verbatim;
  if (span === undefined) return prepared.text;
  // Every character one byte (ASCII, no line blanked for invalid UTF-8): the text's indexes are the body's.
  if (text.length === body.length) return body.subarray(span.start, span.end);
  return prepared.text;
}

/** A PreparedBody as a prepare worker sends it back: the renewals in columns (src/renewals/observation-columns.ts). */
export interface PreparedBodyMessage extends Omit<PreparedBody, 'renewals'> {
  readonly renewals: ObservationColumns;
}

/** prepareBody, in the form a worker posts. */
export function prepareBodyMessage(job: PrepareJob): PreparedBodyMessage {
  const prepared = prepareBody(job);
  return { ...prepared, renewals: toColumns(prepared.renewals) };
}

export function fromMessage(message: PreparedBodyMessage): PreparedBody {
  return { ...message, renewals: fromColumns(message.renewals) };
}
