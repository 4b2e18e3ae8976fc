// /metrics: prom-client's default process metrics, then the agent's metric
// families, read at scrape time (no metric-library call per record) and
// rendered by exposition.ts, which lets ring drains run during the scrape.
import { Registry, collectDefaultMetrics } from 'prom-client';

import type { MetricFamily } from '../aggregate/MetricFamily';
import { renderFamilies } from './exposition';

const MISNAMED_DEFAULTS = [
  'nodejs_active_handles_total',
  'nodejs_active_requests_total',
  'nodejs_active_resources_total',
];

export class PrometheusExporter {
  readonly registry = new Registry();

  constructor(private readonly families: MetricFamily[]) {
    collectDefaultMetrics({ register: this.registry });
    // Gauges named like counters, which promtool rejects; the per-type gauges beside them stay.
    for (const name of MISNAMED_DEFAULTS) this.registry.removeSingleMetric(name);
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  async metrics(): Promise<string> {
    return (await this.registry.metrics()) + (await renderFamilies(this.families));
  }
}
