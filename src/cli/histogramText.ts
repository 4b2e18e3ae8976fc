// Text tables of the kernel's latency histograms and of counters, the way
// bcc's and libbpf-tools' runqlat and biolatency print them: one row per slot
// with its range, its count and a bar of stars scaled to the largest slot.
import type { Labels } from '../aggregate/MetricFamily';

export interface CounterRow {
  labels: Labels;
  value: number;
}

/** Stars of the largest slot (libbpf-tools' print_log2_hist). */
export const BAR_WIDTH = 40;

const UNITS: readonly (readonly [name: string, ns: number])[] = [
  ['secs', 1e9],
  ['msecs', 1e6],
  ['usecs', 1e3],
  ['nsecs', 1],
];

/** The largest unit in which `ns` is at least `atLeast`. */
function unitFor(ns: number, atLeast: number): readonly [name: string, ns: number] {
  return UNITS.find(([, unit]) => ns >= atLeast * unit) ?? UNITS[UNITS.length - 1];
}

/** A value in `unit` nanoseconds: four significant digits, whole numbers from 1000 on. */
function inUnit(ns: number, unit: number): string {
  const value = ns / unit;
  return value >= 1000 ? String(Math.round(value)) : String(Number(value.toPrecision(4)));
}

/** `syscall=read errno=EBADF`; values with spaces, quotes or `=` quoted. */
export function labelsText(labels: Labels): string {
  return Object.entries(labels)
    .map(([label, value]) => `${label}=${/[\s"=]/.test(value) || value === '' ? JSON.stringify(value) : value}`)
    .join(' ');
}

/**
 * `title`, then one row per slot from the first to the last that counted
 * anything (`low -> high : count |***  |`, each range up to and including
 * its edge, in one unit named in the heading), then the count and the mean
 * (in a unit of its own); an empty histogram is one line. A latency
 * histogram's slots (src/decode/latencySlots.ts) are its buckets here, one
 * per slot edge (everySlotBuckets).
 */
export function latencyHistogramText(title: string, { bounds, counts, sum }: BoundedHistogram): string {
  const first = counts.findIndex((n) => n > 0);
  if (first < 0) return `${title}: no events\n`;
  let last = first;
  for (let i = first; i < counts.length; i++) if (counts[i] > 0) last = i;
  // The unit in which the last range starts at 1000 or more: up to 7 digits, fractions below 1.
  const lowNs = (bucket: number): number => (bucket === 0 ? 0 : bounds[bucket - 1] * 1e9);
  const [unitName, unit] = unitFor(lowNs(last), 1000);
  const shown = counts.slice(first, last + 1);
  const rows = shown.map((count, i) => {
    const bucket = first + i;
    const low = bucket === 0 ? '0' : inUnit(lowNs(bucket), unit);
    const high = bucket === bounds.length ? 'inf' : inUnit(bounds[bucket] * 1e9, unit);
    return { low, high, count: String(count) };
  });
  const lowWidth = Math.max(10, ...rows.map((r) => r.low.length));
  const highWidth = Math.max(10, ...rows.map((r) => r.high.length));
  const countWidth = Math.max(8, ...rows.map((r) => r.count.length));
  const largest = Math.max(...shown);
  const lines = [
    title,
    `${' '.repeat(5)}${unitName.padEnd(lowWidth + highWidth - 1)} : ${'count'.padEnd(countWidth)} distribution`,
    ...rows.map(({ low, high, count }, i) => {
      const stars = Math.floor((shown[i] * BAR_WIDTH) / largest);
      const bar = '*'.repeat(stars) + ' '.repeat(BAR_WIDTH - stars);
      return `${low.padStart(lowWidth)} -> ${high.padEnd(highWidth)} : ${count.padEnd(countWidth)} |${bar}|`;
    }),
  ];
  const count = shown.reduce((a, b) => a + b, 0);
  const meanNs = (sum / count) * 1e9;
  const [meanUnitName, meanUnit] = unitFor(meanNs, 1);
  lines.push(`${' '.repeat(5)}count ${count}, mean ${inUnit(meanNs, meanUnit)} ${meanUnitName}`);
  return `${lines.join('\n')}\n`;
}

/** A histogram with bounds of its own (a user probe's): counts per bucket, the last one past every bound. */
export interface BoundedHistogram {
  bounds: readonly number[];
  counts: readonly number[];
  sum: number;
}

/**
 * `title`, then one row per bucket from the first to the last that counted
 * (`low -> high : count |***  |`, each range up to and including its bound,
 * in the metric's unit), then the count and the mean; an empty one is one line.
 */
export function boundedHistogramText(title: string, { bounds, counts, sum }: BoundedHistogram): string {
  const first = counts.findIndex((n) => n > 0);
  if (first < 0) return `${title}: no events\n`;
  let last = first;
  for (let i = first; i < counts.length; i++) if (counts[i] > 0) last = i;
  const shown = counts.slice(first, last + 1);
  const text = (n: number): string => String(Number(n.toPrecision(4)));
  const rows = shown.map((count, i) => {
    const bucket = first + i;
    const low = bucket === 0 ? '-inf' : text(bounds[bucket - 1]);
    const high = bucket === bounds.length ? 'inf' : text(bounds[bucket]);
    return { low, high, count: String(count) };
  });
  const lowWidth = Math.max(10, ...rows.map((r) => r.low.length));
  const highWidth = Math.max(10, ...rows.map((r) => r.high.length));
  const countWidth = Math.max(8, ...rows.map((r) => r.count.length));
  const largest = Math.max(...shown);
  const count = shown.reduce((a, b) => a + b, 0);
  return `${[
    title,
    `${' '.repeat(5)}${'le'.padEnd(lowWidth + highWidth - 1)} : ${'count'.padEnd(countWidth)} distribution`,
    ...rows.map(({ low, high, count: n }, i) => {
      const stars = Math.floor((shown[i] * BAR_WIDTH) / largest);
      return `${low.padStart(lowWidth)} -> ${high.padEnd(highWidth)} : ${n.padEnd(countWidth)} |${'*'.repeat(stars)}${' '.repeat(BAR_WIDTH - stars)}|`;
    }),
    `${' '.repeat(5)}count ${count}, mean ${text(sum / count)}`,
  ].join('\n')}\n`;
}

/**
 * A counter's rows that are not 0, largest first, at most `limit` of them
 * (`value  labels`); one line `name value` when nothing remains but a total.
 */
export function counterText(name: string, rows: readonly CounterRow[], limit: number): string {
  const moved = rows
    .filter((r) => r.value !== 0)
    .map((r) => ({ value: r.value, labels: labelsText(r.labels) }))
    .sort((a, b) => b.value - a.value || a.labels.localeCompare(b.labels));
  if (moved.length === 0 || (moved.length === 1 && moved[0].labels === '')) {
    return `${name} ${moved[0]?.value ?? 0}\n`;
  }
  const top = moved.slice(0, limit);
  const width = Math.max(10, ...top.map((r) => String(r.value).length));
  const heading = moved.length > limit ? `${name} (top ${limit} of ${moved.length})` : name;
  return `${[heading, ...top.map((r) => `${String(r.value).padStart(width)}  ${r.labels}`)].join('\n')}\n`;
}
