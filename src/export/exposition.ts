// The Prometheus text format (0.0.4) of the agent's families, written here
// rather than by prom-client, on the walk that yields to the event loop
// during a long scrape (familyWalk.ts).
import type { HistogramSample, Labels, MetricFamily, Sample } from '../aggregate/MetricFamily';
import { walkFamilies } from './familyWalk';

function escapeLabelValue(value: string): string {
  return /[\\\n"]/.test(value) ? value.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"') : value;
}

function escapeHelp(help: string): string {
  return help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

function formatValue(value: number): string {
  if (value === Infinity) return '+Inf';
  if (value === -Infinity) return '-Inf';
  return String(value);
}

/**
 * Each label set's `name="value",...` text, kept for as long as the set lives:
 * counters hand out the same Labels object for a series scrape after scrape
 * (RecordCounter), so its text is built once, not per scrape.
 */
const pairsText = new WeakMap<Labels, string>();

function labelText(labels: Labels, extra?: string): string {
  let pairs = pairsText.get(labels);
  if (pairs === undefined) {
    pairs = Object.entries(labels)
      .map(([name, value]) => `${name}="${escapeLabelValue(value)}"`)
      .join(',');
    pairsText.set(labels, pairs);
  }
  if (extra) return pairs ? `{${pairs},${extra}}` : `{${extra}}`;
  return pairs ? `{${pairs}}` : '';
}

function scalarLines(name: string, sample: Sample): string[] {
  return [`${name}${labelText(sample.labels)} ${formatValue(sample.value)}`];
}

function histogramLines(name: string, sample: HistogramSample): string[] {
  const lines: string[] = [];
  let cumulative = 0;
  sample.counts.forEach((count, i) => {
    cumulative += count;
    const le = i < sample.bounds.length ? formatValue(sample.bounds[i]) : '+Inf';
    lines.push(`${name}_bucket${labelText(sample.labels, `le="${le}"`)} ${cumulative}`);
  });
  const labels = labelText(sample.labels);
  lines.push(`${name}_sum${labels} ${formatValue(sample.sum)}`, `${name}_count${labels} ${sample.count}`);
  return lines;
}

/** The exposition of `families`, HELP and TYPE first for each, yielding to the event loop as it goes. */
export async function renderFamilies(families: readonly MetricFamily[]): Promise<string> {
  const chunks: string[] = [];
  let lines: string[] = [];
  const flush = (): void => {
    if (lines.length) chunks.push(`${lines.join('\n')}\n`);
    lines = [];
  };
  await walkFamilies(families, {
    family: (family) =>
      lines.push(`# HELP ${family.name} ${escapeHelp(family.help)}`, `# TYPE ${family.name} ${family.type}`),
    scalar: (family, sample) => lines.push(...scalarLines(family.name, sample)),
    histogram: (family, sample) => lines.push(...histogramLines(family.name, sample)),
    pause: flush,
  });
  flush();
  return chunks.join('');
}
