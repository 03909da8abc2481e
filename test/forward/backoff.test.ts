import t from 'tap';
import { RETRY_AFTER_CAP_MS, backoffMs, parseRetryAfterMs, retryDelayMs } from '../../src/forward/backoff.js';

const policy = { initialMs: 500, maxMs: 30_000 };
const NOW = Date.parse('2024-06-01T12:00:00Z');

t.test('the backoff doubles per failure up to the cap; jitter keeps it between half and all', async (t) => {
  const rows: Array<[number, number]> = [
    [1, 500],
    [2, 1000],
    [3, 2000],
    [6, 16_000],
    [7, 30_000],
    [50, 30_000],
    [Infinity, 30_000],
  ];
  for (const [failures, ceiling] of rows) {
    t.equal(backoffMs(failures, policy, () => 1), ceiling, `failure ${failures}: at most ${ceiling}`);
    t.equal(backoffMs(failures, policy, () => 0), ceiling / 2, `failure ${failures}: at least ${ceiling / 2}`);
  }
  t.equal(backoffMs(0, policy, () => 1), 500, 'failure 0 counts as the first');
});

t.test('Retry-After in seconds or as an HTTP date', async (t) => {
  const rows: Array<[string | undefined, number | undefined]> = [
    ['120', 120_000],
    [' 5 ', 5000],
    ['0', 0],
    ['1.5', 1500],
    ['Sat, 01 Jun 2024 12:00:30 GMT', 30_000],
    ['Saturday, 01-Jun-24 12:00:10 GMT', 10_000],
    ['Sat Jun  1 12:01:00 2024', 60_000],
    ['Sat, 01 Jun 2024 11:00:00 GMT', 0],
    ['-5', undefined],
    ['soon', undefined],
    ['2024-06-01', undefined],
    ['', undefined],
    [undefined, undefined],
  ];
  for (const [value, expected] of rows) t.equal(parseRetryAfterMs(value, NOW), expected, JSON.stringify(value));
});

t.test('the delay: Retry-After wins over the backoff, within bounds', async (t) => {
  const half = () => 0.5;
  t.equal(retryDelayMs(3, policy, undefined, NOW, half), 1500, 'no header: the backoff');
  t.equal(retryDelayMs(1, policy, '10', NOW, half), 10_000, 'the target says 10 s');
  t.equal(retryDelayMs(9, policy, '1', NOW, half), 1000, 'even when shorter than the backoff');
  t.equal(retryDelayMs(1, policy, 'Sat, 01 Jun 2024 12:00:07 GMT', NOW, half), 7000, 'an HTTP date');
  t.equal(retryDelayMs(1, policy, '0', NOW, half), 500, 'never below retry_initial_ms');
  t.equal(retryDelayMs(1, policy, '86400', NOW, half), RETRY_AFTER_CAP_MS, 'a day is capped');
  t.equal(retryDelayMs(2, policy, 'garbage', NOW, half), 750, 'unreadable: the backoff');
});
