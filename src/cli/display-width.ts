// How many terminal columns a text takes, by string-width (Unicode's East Asian
// Width data, emoji, zero-width and combining marks): IDN domains and host names
// are printed in Unicode form, and counted in code points `例え.テスト` pushed
// every later column of a table out of line.
import stringWidth from 'string-width';

/** Columns of one code point. */
export function charWidth(char: string): number {
  // Printable ASCII first: nearly every cell is a plain name or number.
  if (char >= ' ' && char < '\u007f') return 1;
  return stringWidth(char);
}

export function displayWidth(text: string): number {
  return stringWidth(text);
}
