// /metrics: prom-client's default process metrics, then the agent's metric
// families, read at scrape time (no metric-library call per record), in the
// text exposition (exposition.ts) or the protobuf one (protobufExposition.ts),
// both of which let ring drains run during the scrape.
import { Registry, collectDefaultMetrics } from 'prom-client';

import type { MetricFamily } from '../aggregate/MetricFamily';
import { renderFamilies } from './exposition';
import type { ExpositionFormat } from './expositionFormat';
import { PROTOBUF_CONTENT_TYPE, encodeFamilies } from './protobufExposition';
import { promClientFamilies } from './promClientFamilies';

const MISNAMED_DEFAULTS = [
  'nodejs_active_handles_total',
  'nodejs_active_requests_total',
  'nodejs_active_resources_total',
];

/** A rendered /metrics body and its content type. */
export interface Exposition {
  contentType: string;
  body: string | Buffer;
}

export class PrometheusExporter {
  readonly registry = new Registry();
  /** The last protobuf scrape's size and some: the next one's buffer starts there, and is allocated once. */
  private protobufBytes = 64 * 1024;

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

  async render(format: ExpositionFormat): Promise<Exposition> {
    return format === 'protobuf'
      ? { contentType: PROTOBUF_CONTENT_TYPE, body: await this.protobuf() }
      : { contentType: this.contentType, body: await this.metrics() };
  }

  async protobuf(): Promise<Buffer> {
    const families = [...(await promClientFamilies(this.registry)), ...this.families];
    const body = await encodeFamilies(families, this.protobufBytes);
    this.protobufBytes = body.length + (body.length >> 3);
    return body;
  }
}
