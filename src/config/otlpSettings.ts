// OTLP export settings: the endpoint from kernscope's own settings or the
// standard OTEL_* variables every OpenTelemetry SDK reads, and those variables
// checked up front, so a bad one is a one-line start error instead of a
// warning the exporter logs and ignores. The exporter itself reads the
// headers, TLS, timeout and compression variables.
import { readFileSync } from 'node:fs';

import type { AgentOptions } from './AgentOptions';
import { OptionError, OptionErrors } from './OptionError';

export const OTLP_ENDPOINT_ACCEPTED = 'an OTLP/gRPC URL: http://HOST:PORT (plain) or https://HOST:PORT (TLS)';

/** http:// or https:// with a host and no path. */
export function isOtlpEndpoint(value: unknown): boolean {
  if (typeof value !== 'string') return false;
  try {
    const url = new URL(value);
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.hostname !== '' && url.pathname === '/';
  } catch {
    return false;
  }
}

export type Temporality = 'cumulative' | 'delta' | 'lowmemory';

export type HistogramAggregation = 'explicit' | 'exponential';

/** OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION's values (case-insensitive), as the spec names them. */
const HISTOGRAM_AGGREGATIONS = new Map<string, HistogramAggregation>([
  ['explicit_bucket_histogram', 'explicit'],
  ['base2_exponential_bucket_histogram', 'exponential'],
]);

export interface OtlpSettings {
  endpoint: string;
  /** Where the endpoint came from: `otlp_endpoint` (file, KERNSCOPE_OTLP_ENDPOINT, --otlp-endpoint) or an OTEL_* variable. */
  endpointFrom: string;
  intervalMs: number;
  timeoutMs: number;
  /** OTEL_EXPORTER_OTLP_(METRICS_)TIMEOUT: one request, retries included (the exporter's default 10 s). */
  requestTimeoutMs: number;
  temporality: Temporality;
  /**
   * OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION: `exponential` exports the histograms whose
   * slots are exponential buckets as exponential histograms; the others stay explicit-bucket ones.
   */
  histograms: HistogramAggregation;
  nodeName?: string;
}

/** The metrics-specific variable if set, else the general one. */
function otelVariable(env: NodeJS.ProcessEnv, suffix: string): [name: string, value: string] | undefined {
  for (const name of [`OTEL_EXPORTER_OTLP_METRICS_${suffix}`, `OTEL_EXPORTER_OTLP_${suffix}`]) {
    const value = env[name]?.trim();
    if (value) return [name, value];
  }
  return undefined;
}

function positiveMs(env: NodeJS.ProcessEnv, name: string, fallback: number, errors: OptionError[]): number {
  const raw = env[name]?.trim();
  if (!raw) return fallback;
  const value = Number(raw);
  if (Number.isInteger(value) && value > 0) return value;
  errors.push(new OptionError(name, raw, 'a positive integer of milliseconds'));
  return fallback;
}

/** The OTLP export the settings ask for, or undefined when no endpoint is set (OTLP off). */
export function otlpSettings(options: AgentOptions, env: NodeJS.ProcessEnv): OtlpSettings | undefined {
  const errors: OptionError[] = [];
  const fromEnv = otelVariable(env, 'ENDPOINT');
  const [endpointFrom, endpoint] =
    options.otlpEndpoint !== undefined ? ['otlp_endpoint', options.otlpEndpoint] : (fromEnv ?? [undefined, undefined]);
  if (endpoint === undefined || endpointFrom === undefined) return undefined;
  if (!isOtlpEndpoint(endpoint)) errors.push(new OptionError(endpointFrom, endpoint, OTLP_ENDPOINT_ACCEPTED));

  const intervalMs = positiveMs(env, 'OTEL_METRIC_EXPORT_INTERVAL', 60000, errors);
  const timeoutMs = positiveMs(env, 'OTEL_METRIC_EXPORT_TIMEOUT', Math.min(30000, intervalMs), errors);
  if (timeoutMs > intervalMs) {
    errors.push(
      new OptionError('OTEL_METRIC_EXPORT_TIMEOUT', timeoutMs, `at most OTEL_METRIC_EXPORT_INTERVAL (${intervalMs})`),
    );
  }
  const rawTemporality = env.OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE?.trim().toLowerCase() || 'cumulative';
  const temporalities: Temporality[] = ['cumulative', 'delta', 'lowmemory'];
  if (!temporalities.includes(rawTemporality as Temporality)) {
    errors.push(
      new OptionError('OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE', rawTemporality, temporalities.join(', ')),
    );
  }
  const aggregationVariable = 'OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION';
  const rawAggregation = env[aggregationVariable]?.trim() || 'explicit_bucket_histogram';
  const histograms = HISTOGRAM_AGGREGATIONS.get(rawAggregation.toLowerCase());
  if (!histograms) {
    errors.push(new OptionError(aggregationVariable, rawAggregation, [...HISTOGRAM_AGGREGATIONS.keys()].join(', ')));
  }
  const exporterTimeout = otelVariable(env, 'TIMEOUT');
  const requestTimeoutMs = exporterTimeout ? positiveMs(env, exporterTimeout[0], 10000, errors) : 10000;
  const insecure = otelVariable(env, 'INSECURE');
  if (insecure && !['true', 'false'].includes(insecure[1].toLowerCase())) {
    errors.push(new OptionError(insecure[0], insecure[1], 'true or false'));
  }
  const compression = otelVariable(env, 'COMPRESSION');
  if (compression && !['gzip', 'none'].includes(compression[1])) {
    errors.push(new OptionError(compression[0], compression[1], 'gzip or none'));
  }
  const headers = otelVariable(env, 'HEADERS');
  if (headers && !headers[1].split(',').every((pair) => /^[^=\s]+\s*=\s*\S/.test(pair.trim()))) {
    errors.push(new OptionError(headers[0], headers[1], 'comma-separated key=value pairs (api-key=secret,team=sre)'));
  }
  for (const suffix of ['CERTIFICATE', 'CLIENT_CERTIFICATE', 'CLIENT_KEY']) {
    const file = otelVariable(env, suffix);
    if (!file) continue;
    try {
      readFileSync(file[1]);
    } catch (error) {
      errors.push(new OptionError(file[0], file[1], `a readable PEM file (${(error as NodeJS.ErrnoException).code})`));
    }
  }
  OptionErrors.throwIfAny(errors);
  return {
    endpoint,
    endpointFrom,
    intervalMs,
    timeoutMs,
    requestTimeoutMs,
    temporality: rawTemporality as Temporality,
    histograms: histograms ?? 'explicit',
    nodeName: options.nodeName,
  };
}
