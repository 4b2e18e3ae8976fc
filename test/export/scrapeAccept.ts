// The Accept headers Prometheus 2.42 scrapes with, verbatim from its
// scrape/scrape.go (v2.42.0), for the negotiation tests.

/** scrapeAcceptHeader, the default: OpenMetrics first, then text at q=0.5. */
export const PROMETHEUS_242_ACCEPT =
  'application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1';

/** scrapeAcceptHeaderWithProtobuf, with --enable-feature=native-histograms: protobuf first. */
export const PROMETHEUS_242_NATIVE_ACCEPT =
  'application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited,application/openmetrics-text;version=1.0.0;q=0.8,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1';
