// Pushes the agent's metric families over OTLP/gRPC: an OpenTelemetry
// MeterProvider whose reader collects them through FamilyMetricProducer at
// each export (no OTel API call per record) and hands them to the OTLP gRPC
// exporter, which retries with backoff inside the export timeout. Outcomes
// are counted in kernscope_otlp_exports_total{result}; the log says when
// exports start failing and when they recover, not at every attempt.
import { ExportResultCode } from '@opentelemetry/core';
import type { ExportResult } from '@opentelemetry/core';
import { OTLPMetricExporter } from '@opentelemetry/exporter-metrics-otlp-grpc';
import {
  detectResources,
  envDetector,
  hostDetector,
  osDetector,
  resourceFromAttributes,
} from '@opentelemetry/resources';
import type { Resource } from '@opentelemetry/resources';
import type { InstrumentType, PushMetricExporter, ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { InstrumentType as Instrument, MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';

import type { Labels, MetricFamily } from '../aggregate/MetricFamily';
import { ComputedFamily } from '../aggregate/MetricFamily';
import type { OtlpSettings } from '../config/otlpSettings';
import type { Logger } from '../log';
import { FamilyMetricProducer } from './FamilyMetricProducer';

/** service.name=kernscope (OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES override), version, host, OS, node. */
export function agentResource(version: string, nodeName?: string): Resource {
  const own = resourceFromAttributes({
    'service.name': 'kernscope',
    'service.version': version,
    ...(nodeName ? { 'k8s.node.name': nodeName } : {}),
  });
  const detected = detectResources({ detectors: [hostDetector, osDetector, envDetector] });
  return own.merge(detected);
}

/** The OTLP exporter, counting each export's outcome. */
class CountingExporter implements PushMetricExporter {
  constructor(
    private readonly inner: OTLPMetricExporter,
    private readonly onResult: (result: ExportResult) => void,
  ) {}

  export(metrics: ResourceMetrics, done: (result: ExportResult) => void): void {
    this.inner.export(metrics, (result) => {
      this.onResult(result);
      done(result);
    });
  }

  selectAggregationTemporality(type: InstrumentType) {
    return this.inner.selectAggregationTemporality(type);
  }

  forceFlush(): Promise<void> {
    return this.inner.forceFlush();
  }

  shutdown(): Promise<void> {
    return this.inner.shutdown();
  }
}

export class OtlpExporter {
  private readonly outcomes = { success: 0, failure: 0 };
  private failing: boolean | undefined;
  private provider?: MeterProvider;

  /** kernscope_otlp_exports_total{result}: for /metrics and for the export itself. */
  readonly exportsFamily: MetricFamily = new ComputedFamily(
    'kernscope_otlp_exports_total',
    'OTLP metric exports, by result (success, failure: the collector unreachable or refusing after retries).',
    'counter',
    () => Object.entries(this.outcomes).map(([result, value]) => ({ labels: { result }, value })),
  );

  constructor(
    private readonly settings: OtlpSettings,
    private readonly log: Logger,
  ) {}

  /** `attributesOf`: a series' labels as OTel attributes (the agent's attribution renames its own). */
  start(families: MetricFamily[], version: string, attributesOf?: (labels: Labels) => Labels): void {
    // Headers, TLS, compression and temporality come from the OTEL_* variables (checked in otlpSettings);
    // the histogram aggregation from settings, as the exporter does not read that variable.
    // A request never outlives its export: past the export timeout the gRPC deadline cancels it and the
    // export counts as a failure, rather than the reader giving up while a late answer counts as a success.
    const exporter = new OTLPMetricExporter({
      url: this.settings.endpoint,
      timeoutMillis: Math.min(this.settings.requestTimeoutMs, this.settings.timeoutMs),
    });
    const resource = agentResource(version, this.settings.nodeName);
    const producer = new FamilyMetricProducer(
      () => families,
      resource,
      { temporality: exporter.selectAggregationTemporality(Instrument.COUNTER), histograms: this.settings.histograms },
      attributesOf,
    );
    const reader = new PeriodicExportingMetricReader({
      exporter: new CountingExporter(exporter, (result) => this.record(result)),
      exportIntervalMillis: this.settings.intervalMs,
      exportTimeoutMillis: this.settings.timeoutMs,
      metricProducers: [producer],
    });
    this.provider = new MeterProvider({ resource, readers: [reader] });
    // A first export now, while the rings are nearly empty: it opens the gRPC channel and runs the
    // serializer cold (a 20 ms block of the event loop on an idle machine, 56-76 ms under load,
    // measured), which one interval later would stall the drain; and a collector that cannot be
    // reached is reported at start rather than an interval later.
    void this.provider.forceFlush().catch(() => undefined);
    this.log.info('OTLP export on', {
      endpoint: this.settings.endpoint,
      from: this.settings.endpointFrom,
      interval_ms: this.settings.intervalMs,
      temporality: this.settings.temporality,
      histograms: this.settings.histograms,
    });
  }

  /** Exports now; resolves when the export ended, whatever its outcome. */
  async forceFlush(): Promise<void> {
    await this.provider?.forceFlush().catch(() => undefined);
  }

  /** A last export, then stop; gives up after `deadlineMs` and never rejects. */
  async shutdown(deadlineMs: number): Promise<void> {
    const provider = this.provider;
    this.provider = undefined;
    if (!provider) return;
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<void>((resolve) => (timer = setTimeout(resolve, deadlineMs)));
    await Promise.race([provider.shutdown().catch(() => undefined), deadline]);
    clearTimeout(timer);
  }

  private record(result: ExportResult): void {
    const ok = result.code === ExportResultCode.SUCCESS;
    this.outcomes[ok ? 'success' : 'failure']++;
    if (this.failing === !ok) return;
    const first = this.failing === undefined;
    this.failing = !ok;
    const fields = { endpoint: this.settings.endpoint };
    if (!ok) this.log.warn('OTLP export failing', { ...fields, error: result.error?.message ?? 'unknown' });
    else this.log.info(first ? 'OTLP export ok' : 'OTLP export recovered', fields);
  }
}
