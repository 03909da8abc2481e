// Durations as operators type them (`--older-than 7d`, `--timeout 90s`) and as
// the CLI prints ages back.
import t from 'tap';
import { formatChosenDuration, formatDuration, parseDuration } from '../../src/cli/duration.js';

const S = 1000;
const M = 60 * S;
const H = 60 * M;
const D = 24 * H;

t.test('a number and a unit, or a sum of them largest first, is a duration in milliseconds', async (t) => {
  const cases: Array<[string, number]> = [
    ['7d', 7 * D],
    ['12h', 12 * H],
    ['30m', 30 * M],
    ['45s', 45 * S],
    ['500ms', 500],
    ['2w', 14 * D],
    ['0s', 0],
    ['1h30m', H + 30 * M],
    ['1d12h', D + 12 * H],
    ['1m30s500ms', M + 30 * S + 500],
  ];
  for (const [text, ms] of cases) t.equal(parseDuration(text), ms, text);
});

t.test('anything else is refused rather than guessed', async (t) => {
  for (const text of ['', '7', 'd', '7x', '-7d', '+7d', '7 d', ' 7d', '7d ', '7D', '1.5h', '30m1h', '1h1h', '7days', '1e3s', '99999999999999999999d']) {
    t.equal(parseDuration(text), undefined, JSON.stringify(text));
  }
});

t.test('ages print in their two largest units', async (t) => {
  const cases: Array<[number, string]> = [
    [0, '0s'],
    [999, '0s'],
    [45 * S, '45s'],
    [3 * M + 12 * S, '3m 12s'],
    [H, '1h'],
    [2 * H + 5 * M + 59 * S, '2h 5m'],
    [4 * D + 3 * H + 7 * M, '4d 3h'],
    [-5 * S, '0s'],
  ];
  for (const [ms, text] of cases) t.equal(formatDuration(ms), text, String(ms));
});

t.test('a chosen length under a minute keeps its milliseconds; longer ones print as ages do', async (t) => {
  t.equal(formatChosenDuration(500), '0.5s');
  t.equal(formatChosenDuration(1500), '1.5s');
  t.equal(formatChosenDuration(30_000), '30s');
  t.equal(formatChosenDuration(90 * 60_000), '1h 30m');
});
