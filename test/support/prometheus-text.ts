// Reads a relay's GET /metrics (Prometheus text format) into numbers, for
// tests that watch a child process from the outside.

export interface Scrape {
  /** The sample `name{labels}`; labels match when each given one is equal. Sums the matching samples; 0 when none. */
  value(name: string, labels?: Readonly<Record<string, string>>): number;
  /** Every sample of `name` with its labels. */
  samples(name: string): Array<{ labels: Record<string, string>; value: number }>;
}

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

export function parsePrometheusText(text: string): Scrape {
  const all: Array<{ name: string; labels: Record<string, string>; value: number }> = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = SAMPLE.exec(line);
    if (m === null) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(LABEL)) labels[l[1]] = l[2].replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
    all.push({ name: m[1], labels, value: Number(m[3]) });
  }
  const samples = (name: string) => all.filter((s) => s.name === name).map(({ labels, value }) => ({ labels, value }));
  return {
    samples,
    value: (name, labels = {}) =>
      samples(name)
        .filter((s) => Object.entries(labels).every(([k, v]) => s.labels[k] === v))
        .reduce((sum, s) => sum + s.value, 0),
  };
}

export async function scrapeMetrics(baseUrl: string): Promise<Scrape> {
  const res = await fetch(`${baseUrl}/metrics`);
  const text = await res.text();
  if (res.status !== 200) throw new Error(`GET ${baseUrl}/metrics: ${res.status} ${text}`);
  return parsePrometheusText(text);
}
