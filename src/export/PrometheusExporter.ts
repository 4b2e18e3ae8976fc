// Serves the agent's metric families through prom-client: families are read
// at scrape time (no metric-library call per record), and prom-client adds
// its default process metrics and does the text exposition.
import { Registry, collectDefaultMetrics } from 'prom-client';
import type { Metric } from 'prom-client';

import type { HistogramSample, MetricFamily } from '../aggregate/MetricFamily';

interface PromValue {
  metricName?: string;
  labels: Record<string, string | number>;
  value: number;
}

/** Histogram series as Prometheus lines: cumulative _bucket{le}, _sum, _count. */
function histogramValues(name: string, samples: HistogramSample[]): PromValue[] {
  const values: PromValue[] = [];
  for (const sample of samples) {
    let cumulative = 0;
    sample.counts.forEach((count, i) => {
      cumulative += count;
      const le = i < sample.bounds.length ? sample.bounds[i] : '+Inf';
      values.push({ metricName: `${name}_bucket`, labels: { ...sample.labels, le }, value: cumulative });
    });
    values.push({ metricName: `${name}_sum`, labels: sample.labels, value: sample.sum });
    values.push({ metricName: `${name}_count`, labels: sample.labels, value: sample.count });
  }
  return values;
}

function promValues(family: MetricFamily): PromValue[] {
  return family.type === 'histogram' ? histogramValues(family.name, family.collect()) : family.collect();
}

/** The shape prom-client's Registry reads from a metric at scrape time. */
function asPromMetric(family: MetricFamily): Metric {
  const adapter = {
    name: family.name,
    help: family.help,
    type: family.type,
    aggregator: 'sum',
    get: () => ({
      name: family.name,
      help: family.help,
      type: family.type,
      aggregator: 'sum',
      values: promValues(family),
    }),
  };
  // prom-client types registerMetric() with its own classes; the registry only uses the fields above.
  return adapter as unknown as Metric;
}

const MISNAMED_DEFAULTS = [
  'nodejs_active_handles_total',
  'nodejs_active_requests_total',
  'nodejs_active_resources_total',
];

export class PrometheusExporter {
  readonly registry = new Registry();

  constructor(families: MetricFamily[]) {
    collectDefaultMetrics({ register: this.registry });
    // Gauges named like counters, which promtool rejects; the per-type gauges beside them stay.
    for (const name of MISNAMED_DEFAULTS) this.registry.removeSingleMetric(name);
    for (const family of families) this.registry.registerMetric(asPromMetric(family));
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  metrics(): Promise<string> {
    return this.registry.metrics();
  }
}
