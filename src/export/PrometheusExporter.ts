// Serves the agent's metric families through prom-client: families are read
// at scrape time (no metric-library call per record), and prom-client adds
// its default process metrics and does the text exposition.
import { Registry, collectDefaultMetrics } from 'prom-client';
import type { Metric } from 'prom-client';

import type { MetricFamily } from '../aggregate/MetricFamily';

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
      values: family.collect(),
    }),
  };
  // prom-client types registerMetric() with its own classes; the registry only uses the fields above.
  return adapter as unknown as Metric;
}

export class PrometheusExporter {
  readonly registry = new Registry();

  constructor(families: MetricFamily[]) {
    collectDefaultMetrics({ register: this.registry });
    for (const family of families) this.registry.registerMetric(asPromMetric(family));
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  metrics(): Promise<string> {
    return this.registry.metrics();
  }
}
