// A one-line progress bar on stderr for waits that take more than a moment
// (`dead-letters replay`). Drawn only on a terminal: redrawn lines in a log
// file or a CI transcript are noise, and stdout stays clean for --json.

export interface ProgressStream {
  readonly isTTY?: boolean;
  readonly columns?: number;
  write(text: string): unknown;
}

export interface ProgressOptions {
  readonly label: string;
  readonly total: number;
  readonly unit: string;
  /** Nothing is drawn before this: a wait that ends at once shows no bar. */
  readonly delayMs?: number;
  readonly nowMs?: () => number;
}

const DEFAULT_DELAY_MS = 500;
const DEFAULT_COLUMNS = 80;
const MIN_BAR_WIDTH = 10;
const MAX_BAR_WIDTH = 40;

export class ProgressBar {
  readonly #stream: ProgressStream;
  readonly #options: ProgressOptions;
  readonly #nowMs: () => number;
  readonly #startedMs: number;
  #drawn = false;

  constructor(stream: ProgressStream, options: ProgressOptions) {
    this.#stream = stream;
    this.#options = options;
    this.#nowMs = options.nowMs ?? Date.now;
    this.#startedMs = this.#nowMs();
  }

  update(done: number): void {
    if (this.#stream.isTTY !== true) return;
    const elapsedMs = this.#nowMs() - this.#startedMs;
    if (elapsedMs < (this.#options.delayMs ?? DEFAULT_DELAY_MS)) return;
    const { label, total, unit } = this.#options;
    // A pseudo-terminal without a size reports 0 columns
    const columns = (this.#stream.columns ?? 0) > 0 ? this.#stream.columns! : DEFAULT_COLUMNS;
    const line = renderProgress({ label, done, total, unit, elapsedMs, columns });
    // \r back to the start, \x1b[K clears what a longer previous line left behind
    this.#stream.write(`\r${line}\x1b[K`);
    this.#drawn = true;
  }

  /** Removes the bar, so the report that follows starts on a clean line. */
  finish(): void {
    if (this.#drawn) this.#stream.write('\r\x1b[K');
    this.#drawn = false;
  }
}

/** `replaying [##########----------] 3/6 dead letters  1.2s`, fitted to the terminal width. Pure. */
export function renderProgress(p: {
  readonly label: string;
  readonly done: number;
  readonly total: number;
  readonly unit: string;
  readonly elapsedMs: number;
  readonly columns: number;
}): string {
  const done = Math.min(Math.max(p.done, 0), p.total);
  const counts = ` ${done}/${p.total} ${p.unit}  ${(p.elapsedMs / 1000).toFixed(1)}s`;
  const room = p.columns - 1 - p.label.length - 3 - counts.length;
  const barWidth = Math.min(MAX_BAR_WIDTH, room);
  if (barWidth < MIN_BAR_WIDTH) return `${p.label}${counts}`.slice(0, Math.max(0, p.columns - 1));
  const filled = p.total === 0 ? barWidth : Math.floor((done / p.total) * barWidth);
  return `${p.label} [${'#'.repeat(filled)}${'-'.repeat(barWidth - filled)}]${counts}`;
}
