// The renewal observations of a stored batch, read back from its lines to
// rebuild the renewal state after a crash. The lines go through the same
// prepareWrite that took them in, so there is one definition of what a
// renewal observation is.
import { prepareWrite } from '../ingest/prepare.js';
import { MAX_NANO_TIME } from '../line-protocol/precision.js';
import type { RenewalObservation } from './observation.js';

// Characters that can be escaped in a measurement name (src/line-protocol/parse.ts), and the backslash.
const ESCAPABLE = /[,"= \\]/;

/**
 * `lines` as stored: accepted once, normalised, each with its ns timestamp.
 * The future-timestamp rule was checked against the clock of that moment, so it is not applied again.
 */
export function renewalsInStoredLines(lines: string, certbotMeasurement: string): RenewalObservation[] {
  // A name without escapable characters appears literally in every line of that measurement:
  // a batch without it needs no parse (most of a busy log).
  if (!ESCAPABLE.test(certbotMeasurement) && !lines.includes(certbotMeasurement)) return [];
  return prepareWrite(lines, { precision: 'ns', nowNs: 0n, rules: { certbotMeasurement, maxFutureNs: MAX_NANO_TIME } }).renewals;
}
