// The Prometheus text format (0.0.4) of the agent's families, written here
// rather than by prom-client: a scrape of 10k series through prom-client's
// registry held the event loop for 120-170 ms, long enough for a 4 MiB ring
// to overflow at 1M records/s (bench/README.md, scrape table). Rendering
// yields to the event loop every YIELD_EVERY lines, so ring drains (timer and
// readiness callbacks) run during a long scrape.
import { setImmediate as yieldToLoop } from 'node:timers/promises';

import type { HistogramSample, Labels, MetricFamily, Sample } from '../aggregate/MetricFamily';

/** Lines rendered between two yields: about a millisecond of work. */
export const YIELD_EVERY = 2000;

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
  const flush = async (): Promise<void> => {
    chunks.push(`${lines.join('\n')}\n`);
    lines = [];
    await yieldToLoop();
  };
  for (const family of families) {
    await family.prepare?.(yieldToLoop);
    lines.push(`# HELP ${family.name} ${escapeHelp(family.help)}`, `# TYPE ${family.name} ${family.type}`);
    for (const sample of family.collect()) {
      lines.push(
        ...(family.type === 'histogram'
          ? histogramLines(family.name, sample as HistogramSample)
          : scalarLines(family.name, sample as Sample)),
      );
      if (lines.length >= YIELD_EVERY) await flush();
    }
  }
  if (lines.length) chunks.push(`${lines.join('\n')}\n`);
  return chunks.join('');
}
