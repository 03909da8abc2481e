// The CLI's human output: aligned columns, cut long cells, terminal-safe text,
// and a progress bar that only a terminal sees.
import t from 'tap';
import { ProgressBar, renderProgress } from '../../src/cli/progress.js';
import { formatBytes, formatTable, printable } from '../../src/cli/table.js';

t.test('columns are as wide as their widest cell, numbers right-aligned, no trailing spaces', async (t) => {
  const text = formatTable(
    [{ header: 'TARGET' }, { header: 'POINTS', align: 'right' }, { header: 'NOTE' }],
    [
      ['influx-a', '5', 'ok'],
      ['b', '12345678', ''],
    ],
  );
  t.equal(text, ['TARGET      POINTS  NOTE', 'influx-a         5  ok', 'b         12345678'].join('\n'));
});

t.test('a cell longer than its column limit is cut with an ellipsis; widths count characters, not bytes', async (t) => {
  const text = formatTable(
    [{ header: 'ID' }, { header: 'ERROR', maxWidth: 10 }],
    [
      ['1', 'partial write: field type conflict'],
      ['2', 'bücher'],
    ],
  );
  t.equal(text, ['ID  ERROR', '1   partial w…', '2   bücher'].join('\n'));
});

t.test('control characters from targets and clients cannot drive the terminal', async (t) => {
  t.equal(printable('a\x1b[2Jb\x07'), 'a\\x1b[2Jb\\x07');
  t.equal(printable('line one\nline two\tx\r'), 'line one line two x ');
  t.equal(printable('m v=1 1\nm v=2 2\r', true), 'm v=1 1\nm v=2 2\\x0d');
  t.equal(printable('\u009b31m'), '\\x9b31m', 'the 8-bit CSI too');
  t.equal(formatTable([{ header: 'E' }], [['x\ny']]), 'E\nx y');
});

t.test('sizes are printed in binary units', async (t) => {
  t.equal(formatBytes(0), '0 B');
  t.equal(formatBytes(1023), '1023 B');
  t.equal(formatBytes(1536), '1.5 KiB');
  t.equal(formatBytes(200 * 1024 * 1024), '200 MiB');
  t.equal(formatBytes(3 * 1024 ** 3), '3.0 GiB');
});

t.test('the progress bar fits the terminal and shows count and elapsed time', async (t) => {
  const line = renderProgress({ label: 'replaying', done: 3, total: 6, unit: 'dead letters', elapsedMs: 1234, columns: 80 });
  t.equal(line, `replaying [${'#'.repeat(20)}${'-'.repeat(20)}] 3/6 dead letters  1.2s`);
  t.ok(line.length < 80);
  const narrow = renderProgress({ label: 'replaying', done: 1, total: 6, unit: 'dead letters', elapsedMs: 0, columns: 30 });
  t.equal(narrow, 'replaying 1/6 dead letters  0');
  t.equal(renderProgress({ label: 'x', done: 9, total: 6, unit: 'u', elapsedMs: 0, columns: 40 }), `x [${'#'.repeat(23)}] 6/6 u  0.0s`, 'done is capped at the total; the line stays one short of the width');
});

t.test('the progress bar appears only on a terminal, only after the delay, and is erased at the end', async (t) => {
  let now = 0;
  const written: string[] = [];
  const tty = { isTTY: true, columns: 60, write: (s: string) => written.push(s) };
  const bar = new ProgressBar(tty, { label: 'replaying', total: 2, unit: 'dead letters', delayMs: 500, nowMs: () => now });
  bar.update(0);
  now = 499;
  bar.update(1);
  t.same(written, [], 'nothing within the first moment');
  now = 500;
  bar.update(1);
  t.equal(written.length, 1);
  t.match(written[0], /^\rreplaying \[#+-+\] 1\/2 dead letters {2}0\.5s\x1b\[K$/);
  bar.finish();
  t.equal(written.at(-1), '\r\x1b[K');

  const sizeless: string[] = [];
  const pty = new ProgressBar({ isTTY: true, columns: 0, write: (s: string) => sizeless.push(s) }, { label: 'r', total: 1, unit: 'u', delayMs: 0, nowMs: () => 0 });
  pty.update(0);
  t.match(sizeless[0], /^\rr \[-+\] 0\/1 u {2}0\.0s/, 'a terminal that reports no width gets 80 columns');

  const piped: string[] = [];
  const quiet = new ProgressBar({ write: (s: string) => piped.push(s) }, { label: 'r', total: 1, unit: 'u', delayMs: 0, nowMs: () => 10_000 });
  quiet.update(0);
  quiet.finish();
  t.same(piped, [], 'not a terminal: no bar, no erase');

  const fast: string[] = [];
  const instant = new ProgressBar({ ...tty, write: (s: string) => fast.push(s) }, { label: 'r', total: 1, unit: 'u', nowMs: () => 0 });
  instant.update(1);
  instant.finish();
  t.same(fast, [], 'a wait that ends at once leaves no trace');
});

t.test('CJK names take two columns each and combining marks none, so IDN domains and hosts stay in line', async (t) => {
  const text = formatTable(
    [{ header: 'DOMAIN' }, { header: 'HOST' }, { header: 'STATE' }],
    [
      ['例え.テスト', 'サーバー一号', 'new'],
      ['mu\u0308nchen.de', 'optimus', 'ok'],
      ['example.com', 'optimus', 'overdue'],
    ],
  );
  t.equal(
    text,
    [
      'DOMAIN       HOST          STATE',
      '例え.テスト  サーバー一号  new',
      'mu\u0308nchen.de   optimus       ok',
      'example.com  optimus       overdue',
    ].join('\n'),
  );
});

t.test('a cell of wide characters is cut to its column limit in columns, the ellipsis included', async (t) => {
  const text = formatTable([{ header: 'ERROR', maxWidth: 6 }], [['データベースが見つかりません'], ['abcdefgh']]);
  t.equal(text, ['ERROR', 'デー…', 'abcde…'].join('\n'));
});
