// OTLP settings: where the endpoint comes from, the OTEL_* defaults, and one
// error line per bad variable naming it, its value and what it accepts.
import t from 'tap';

import { DEFAULT_OPTIONS } from '../../src/config/AgentOptions';
import { optionErrorsOf } from '../../src/config/OptionError';
import { otlpSettings } from '../../src/config/otlpSettings';

const settings = (env: NodeJS.ProcessEnv, otlpEndpoint?: string) =>
  otlpSettings({ ...DEFAULT_OPTIONS, otlpEndpoint }, env);

function errorLines(env: NodeJS.ProcessEnv): string[] {
  try {
    settings(env);
  } catch (error) {
    return optionErrorsOf(error).map((e) => e.message);
  }
  return [];
}

void t.test('no endpoint anywhere: OTLP off', (t) => {
  t.equal(settings({}), undefined);
  t.equal(settings({ OTEL_METRIC_EXPORT_INTERVAL: '5000' }), undefined, 'other variables alone do not turn it on');
  t.end();
});

void t.test('the endpoint: kernscope setting, then the metrics variable, then the general one', (t) => {
  const general = { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://general:4317' };
  const metrics = { ...general, OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: 'https://metrics:4317' };
  t.match(settings(general), { endpoint: 'http://general:4317', endpointFrom: 'OTEL_EXPORTER_OTLP_ENDPOINT' });
  t.match(settings(metrics), { endpoint: 'https://metrics:4317', endpointFrom: 'OTEL_EXPORTER_OTLP_METRICS_ENDPOINT' });
  t.match(settings(metrics, 'http://own:4317'), { endpoint: 'http://own:4317', endpointFrom: 'otlp_endpoint' });
  t.end();
});

void t.test('defaults: every 60 s, 30 s timeout, cumulative; the variables override', (t) => {
  const endpoint = { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4317' };
  t.match(settings(endpoint), {
    intervalMs: 60000,
    timeoutMs: 30000,
    temporality: 'cumulative',
    histograms: 'explicit',
  });
  t.match(
    settings({
      ...endpoint,
      OTEL_METRIC_EXPORT_INTERVAL: '1000',
      OTEL_METRIC_EXPORT_TIMEOUT: '500',
      OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE: 'Delta',
    }),
    { intervalMs: 1000, timeoutMs: 500, temporality: 'delta' },
  );
  t.match(
    settings({ ...endpoint, OTEL_METRIC_EXPORT_INTERVAL: '10000' }),
    { timeoutMs: 10000 },
    'timeout within interval',
  );
  t.end();
});

void t.test('histogram aggregation: explicit unless the variable asks for exponential (any case)', (t) => {
  const endpoint = { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4317' };
  const variable = 'OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION';
  const cases: [string, string][] = [
    ['base2_exponential_bucket_histogram', 'exponential'],
    [' BASE2_Exponential_Bucket_Histogram ', 'exponential'],
    ['explicit_bucket_histogram', 'explicit'],
    ['', 'explicit'],
  ];
  for (const [value, histograms] of cases) t.match(settings({ ...endpoint, [variable]: value }), { histograms }, value);
  t.end();
});

void t.test('each bad variable is one line naming it, its value and what is accepted', (t) => {
  const endpoint = { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4317' };
  const cases: [NodeJS.ProcessEnv, string][] = [
    [
      { OTEL_EXPORTER_OTLP_ENDPOINT: 'ftp://c:21' },
      'invalid OTEL_EXPORTER_OTLP_ENDPOINT: "ftp://c:21"; expected an OTLP/gRPC URL: http://HOST:PORT (plain) or https://HOST:PORT (TLS)',
    ],
    [
      { ...endpoint, OTEL_METRIC_EXPORT_INTERVAL: '10s' },
      'invalid OTEL_METRIC_EXPORT_INTERVAL: "10s"; expected a positive integer of milliseconds',
    ],
    [
      { ...endpoint, OTEL_METRIC_EXPORT_INTERVAL: '1000', OTEL_METRIC_EXPORT_TIMEOUT: '2000' },
      'invalid OTEL_METRIC_EXPORT_TIMEOUT: 2000; expected at most OTEL_METRIC_EXPORT_INTERVAL (1000)',
    ],
    [
      { ...endpoint, OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE: 'sometimes' },
      'invalid OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE: "sometimes"; expected cumulative, delta, lowmemory',
    ],
    [
      { ...endpoint, OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION: 'Exponential' },
      'invalid OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION: "Exponential"; expected explicit_bucket_histogram, base2_exponential_bucket_histogram',
    ],
    [
      { ...endpoint, OTEL_EXPORTER_OTLP_METRICS_INSECURE: 'yes' },
      'invalid OTEL_EXPORTER_OTLP_METRICS_INSECURE: "yes"; expected true or false',
    ],
    [
      { ...endpoint, OTEL_EXPORTER_OTLP_HEADERS: 'api-key' },
      'invalid OTEL_EXPORTER_OTLP_HEADERS: "api-key"; expected comma-separated key=value pairs (api-key=secret,team=sre)',
    ],
    [
      { ...endpoint, OTEL_EXPORTER_OTLP_CERTIFICATE: '/no/such/ca.pem' },
      'invalid OTEL_EXPORTER_OTLP_CERTIFICATE: "/no/such/ca.pem"; expected a readable PEM file (ENOENT)',
    ],
    [
      { ...endpoint, OTEL_EXPORTER_OTLP_TIMEOUT: '-1' },
      'invalid OTEL_EXPORTER_OTLP_TIMEOUT: "-1"; expected a positive integer of milliseconds',
    ],
    [
      { ...endpoint, OTEL_EXPORTER_OTLP_COMPRESSION: 'zstd' },
      'invalid OTEL_EXPORTER_OTLP_COMPRESSION: "zstd"; expected gzip or none',
    ],
  ];
  for (const [env, line] of cases) t.same(errorLines(env), [line], Object.keys(env).at(-1) ?? '');
  t.equal(
    errorLines({ ...endpoint, OTEL_METRIC_EXPORT_INTERVAL: 'x', OTEL_EXPORTER_OTLP_INSECURE: 'maybe' }).length,
    2,
    'two bad variables, two lines',
  );
  t.end();
});
