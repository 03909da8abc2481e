// Where a CPU profile's time went: reads the .cpuprofile files written by
// `node --cpu-prof` and prints the functions with the most self time
// (aggregated by function name + script + line, over all files given), then
// the same time rolled up by module (a src/ file, an npm package, node's own
// internals, or V8's pseudo-nodes such as the garbage collector).
//
//   node dist/bench/profile-summary.js PROFILE.cpuprofile... [--top 15]
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

interface CallFrame {
  readonly functionName: string;
  readonly url: string;
  /** 0-based. */
  readonly lineNumber: number;
}
interface ProfileNode {
  readonly id: number;
  readonly callFrame: CallFrame;
}
interface CpuProfile {
  readonly nodes: readonly ProfileNode[];
  readonly startTime: number;
  readonly endTime: number;
  readonly samples: readonly number[];
  /** Microseconds since the previous sample (the first: since startTime). */
  readonly timeDeltas: readonly number[];
}

interface Entry {
  readonly name: string;
  readonly location: string;
  readonly module: string;
  selfUs: number;
}

// V8's pseudo-functions: time not spent in any JavaScript or native function of ours.
const IDLE = '(idle)';

const { values, positionals } = parseArgs({
  options: { top: { type: 'string', default: '15' }, root: { type: 'string', default: process.cwd() } },
  allowPositionals: true,
});
if (positionals.length === 0) {
  process.stderr.write('usage: node dist/bench/profile-summary.js PROFILE.cpuprofile... [--top 15] [--root DIR]\n');
  process.exit(2);
}
const top = Number(values.top);
const root = `file://${values.root.replace(/\/$/, '')}/`;

const byFunction = new Map<string, Entry>();
let totalUs = 0;
let idleUs = 0;
for (const file of positionals) {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
  // Sample i lasts until sample i+1 is taken, i.e. timeDeltas[i+1]; the last one until endTime.
  let at = profile.startTime;
  const stamps = profile.timeDeltas.map((d) => (at += d));
  for (let i = 0; i < profile.samples.length; i++) {
    const durationUs = (i + 1 < stamps.length ? stamps[i + 1] : profile.endTime) - stamps[i];
    if (durationUs <= 0) continue;
    const frame = nodes.get(profile.samples[i])!.callFrame;
    totalUs += durationUs;
    if (frame.functionName === IDLE) idleUs += durationUs;
    const key = `${frame.functionName}\u0000${frame.url}\u0000${frame.lineNumber}`;
    let entry = byFunction.get(key);
    if (entry === undefined) {
      entry = { name: frame.functionName || '(anonymous)', location: location(frame), module: moduleOf(frame), selfUs: 0 };
      byFunction.set(key, entry);
    }
    entry.selfUs += durationUs;
  }
}

const busyUs = totalUs - idleUs;
const pct = (us: number, of: number): string => (of > 0 ? `${((100 * us) / of).toFixed(1)}%` : '–');
const ms = (us: number): string => (us / 1000).toFixed(0);

const functions = [...byFunction.values()].sort((a, b) => b.selfUs - a.selfUs);
const lines = [
  `${positionals.length} profile(s), ${ms(totalUs)} ms sampled, of which ${ms(idleUs)} ms idle (${pct(idleUs, totalUs)}): ` +
    `the main thread was busy ${pct(busyUs, totalUs)} of the time.`,
  '',
  `Top ${top} functions by self time:`,
  '',
  '| # | self ms | % of all | % of busy | function | where |',
  '|---:|---:|---:|---:|---|---|',
  ...functions
    .slice(0, top)
    .map((e, i) => `| ${i + 1} | ${ms(e.selfUs)} | ${pct(e.selfUs, totalUs)} | ${e.name === IDLE ? '–' : pct(e.selfUs, busyUs)} | \`${e.name}\` | ${e.location} |`),
  '',
  'Self time by module:',
  '',
  '| module | self ms | % of all | % of busy |',
  '|---|---:|---:|---:|',
];
const byModule = new Map<string, number>();
for (const e of functions) byModule.set(e.module, (byModule.get(e.module) ?? 0) + e.selfUs);
for (const [module, us] of [...byModule].sort((a, b) => b[1] - a[1]).slice(0, top)) {
  lines.push(`| ${module} | ${ms(us)} | ${pct(us, totalUs)} | ${module === IDLE ? '–' : pct(us, busyUs)} |`);
}
process.stdout.write(`${lines.join('\n')}\n`);

function location(frame: CallFrame): string {
  if (frame.url === '') return '(native)';
  const url = frame.url.startsWith(root) ? frame.url.slice(root.length) : frame.url;
  return `${url}:${frame.lineNumber + 1}`;
}

/** src/ingest/prepare.js, fastify, node:internal/streams, (garbage collector), … */
function moduleOf(frame: CallFrame): string {
  const { url, functionName } = frame;
  if (url === '') return functionName.startsWith('(') ? functionName : '(native)';
  const packageMatch = /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url);
  if (packageMatch) return packageMatch[1];
  if (url.startsWith('node:')) {
    const parts = url.slice('node:'.length).split('/');
    return `node:${parts.slice(0, parts[0] === 'internal' ? 2 : 1).join('/')}`;
  }
  return url.startsWith(root) ? url.slice(root.length) : url;
}
