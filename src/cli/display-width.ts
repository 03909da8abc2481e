// How many terminal columns a text takes: a CJK character (East Asian Wide or
// Fullwidth) or an emoji takes two, a combining mark none, anything else one.
// IDN domains and host names are printed in Unicode form: counted in code points,
// `例え.テスト` pushed every later column of a table out of line. Pure.

const ZERO_WIDTH = /^[\p{Mn}\p{Me}\u200B-\u200F\u2060\uFEFF]$/u;
// The ranges of Unicode's EastAsianWidth.txt marked W or F, merged where they touch, and the emoji shown as pictures.
const WIDE =
  /^[\p{Emoji_Presentation}\u1100-\u115F\u2E80-\u303E\u3041-\u33FF\u3400-\u4DBF\u4E00-\u9FFF\uA000-\uA4CF\uA960-\uA97F\uAC00-\uD7A3\uF900-\uFAFF\uFE10-\uFE19\uFE30-\uFE6F\uFF00-\uFF60\uFFE0-\uFFE6\u{16FE0}-\u{16FE4}\u{17000}-\u{18CFF}\u{1B000}-\u{1B2FF}\u{1F200}-\u{1F2FF}\u{20000}-\u{3FFFD}]$/u;

/** Columns of one code point. */
export function charWidth(char: string): number {
  // ASCII first: nearly every cell is a plain name or number
  if (char < '\u0300') return 1;
  if (ZERO_WIDTH.test(char)) return 0;
  return WIDE.test(char) ? 2 : 1;
}

export function displayWidth(text: string): number {
  let n = 0;
  for (const char of text) n += charWidth(char);
  return n;
}
