// prom-client's metrics (the default process_* and nodejs_* ones) as the
// agent's families, for the protobuf exposition: prom-client writes only
// text. A few dozen series, read from registry.getMetricsAsJSON().
import type { Registry } from 'prom-client';

import type { HistogramSample, Labels, MetricFamily, Sample } from '../aggregate/MetricFamily';

type MetricJson = Awaited<ReturnType<Registry['getMetricsAsJSON']>>[number];
type ValueJson = MetricJson['values'][number] & { metricName?: string };

function labelsOf(json: ValueJson['labels'], without?: string): Labels {
  const labels: Labels = {};
  for (const [name, value] of Object.entries(json)) {
    if (name !== without && value !== undefined) labels[name] = String(value);
  }
  return labels;
}

/** A histogram's values come as cumulative `_bucket` values (le last, +Inf included), `_sum` and `_count`, per series. */
function histogramSamples(name: string, values: readonly ValueJson[]): HistogramSample[] {
  const series = new Map<
    string,
    { labels: Labels; bounds: number[]; cumulative: number[]; sum: number; count: number }
  >();
  for (const { metricName, labels: json, value } of values) {
    const labels = labelsOf(json, 'le');
    const key = JSON.stringify(labels);
    let one = series.get(key);
    if (!one) series.set(key, (one = { labels, bounds: [], cumulative: [], sum: 0, count: 0 }));
    if (metricName === `${name}_sum`) one.sum = value;
    else if (metricName === `${name}_count`) one.count = value;
    else if (metricName === `${name}_bucket` && json.le !== '+Inf') {
      one.bounds.push(Number(json.le));
      one.cumulative.push(value);
    }
  }
  return [...series.values()].map(({ labels, bounds, cumulative, sum, count }) => ({
    labels,
    bounds,
    counts: [...cumulative, count].map((total, i) => total - (i > 0 ? cumulative[i - 1] : 0)),
    sum,
    count,
  }));
}

function familyOf(metric: MetricJson): MetricFamily {
  const { name, help, values } = metric;
  // index.d.ts declares a numeric enum; the objects carry the text exposition's type names.
  const type = String(metric.type);
  if (type === 'histogram') {
    const samples = histogramSamples(name, values);
    return { name, help, type, collect: () => samples };
  }
  if (type === 'counter' || type === 'gauge') {
    const samples: Sample[] = values.map(({ labels, value }) => ({ labels: labelsOf(labels), value }));
    return { name, help, type, collect: () => samples };
  }
  // No default metric is a summary: a registry that had one would need its protobuf form added here.
  throw new Error(`${name}: a prom-client ${type} has no protobuf exposition here`);
}

/** The registry's metrics, read now, as families. */
export async function promClientFamilies(registry: Registry): Promise<MetricFamily[]> {
  return (await registry.getMetricsAsJSON()).map(familyOf);
}
