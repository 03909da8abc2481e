// Aligned plain-text tables for the CLI's human output: a header row, then one
// row per item, columns padded to their widest cell, two spaces apart.
import { charWidth, displayWidth } from './display-width.js';

export interface Column {
  readonly header: string;
  /** Numbers read best right-aligned. */
  readonly align?: 'left' | 'right';
  /** Longer cells are cut with "…" (error texts); the full text is in --json and `show`. */
  readonly maxWidth?: number;
}

const GAP = '  ';

export function formatTable(columns: readonly Column[], rows: readonly (readonly string[])[]): string {
  const cells = rows.map((row) => columns.map((col, i) => fit(printable(row[i] ?? ''), col.maxWidth)));
  // A loop, not Math.max(...cells): 150,000 dead letters are more arguments than a call can take.
  const widths = columns.map((col, i) => cells.reduce((widest, row) => Math.max(widest, width(row[i])), width(col.header)));
  const line = (row: readonly string[]) =>
    row
      .map((cell, i) => pad(cell, widths[i], columns[i].align ?? 'left'))
      .join(GAP)
      .trimEnd();
  return [line(columns.map((c) => c.header)), ...cells.map(line)].join('\n');
}

/**
 * Text from outside (a target's error, a client's line) made safe for a
 * terminal: control characters, escape sequences included, become visible
 * \xNN escapes; newlines and tabs are kept only when `keepNewlines`.
 */
export function printable(text: string, keepNewlines = false): string {
  return text.replace(/[\u0000-\u001f\u007f-\u009f]/g, (c) => {
    if (keepNewlines && (c === '\n' || c === '\t')) return c;
    if (!keepNewlines && (c === '\n' || c === '\t' || c === '\r')) return ' ';
    return `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`;
  });
}

const width = displayWidth;

function fit(text: string, maxWidth: number | undefined): string {
  if (maxWidth === undefined || width(text) <= maxWidth) return text;
  let cut = '';
  let columns = 0;
  for (const char of text) {
    // room for the "…"; a wide character that would straddle the limit is left out whole
    if (columns + charWidth(char) > maxWidth - 1) break;
    cut += char;
    columns += charWidth(char);
  }
  return `${cut}…`;
}

function pad(text: string, to: number, align: 'left' | 'right'): string {
  const fill = ' '.repeat(to - width(text));
  return align === 'right' ? fill + text : text + fill;
}

/** "0 B", "512 B", "1.5 KiB", "3.2 MiB". */
export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${value} B` : `${value < 10 ? value.toFixed(1) : Math.round(value)} ${units[unit]}`;
}
