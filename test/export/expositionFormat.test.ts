// Which exposition an Accept header gets: what Prometheus sends (2.42 by
// default and with native histograms), q-values, parameters that must be
// there, and the headers that mean text.
import t from 'tap';

import { expositionFormat } from '../../src/export/expositionFormat';
import { PROMETHEUS_242_ACCEPT, PROMETHEUS_242_NATIVE_ACCEPT } from './scrapeAccept';

const PROTOBUF = 'application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited';

void t.test('Accept headers and the exposition they get', (t) => {
  const cases: [string | undefined, 'text' | 'protobuf'][] = [
    [undefined, 'text'],
    ['', 'text'],
    [PROMETHEUS_242_ACCEPT, 'text'],
    [PROMETHEUS_242_NATIVE_ACCEPT, 'protobuf'],
    ['*/*', 'text'],
    ['text/plain', 'text'],
    ['application/openmetrics-text;version=1.0.0', 'text'],
    ['application/openmetrics-text; version=1.0.0, application/openmetrics-text; version=0.0.1; q=0.9', 'text'],
    [PROTOBUF, 'protobuf'],
    [`${PROTOBUF};q=0.6,text/plain;version=0.0.4;q=0.5`, 'protobuf'],
    [`${PROTOBUF};q=0.5,text/plain;version=0.0.4;q=0.5`, 'text'],
    [`${PROTOBUF};q=0.4,text/plain;version=0.0.4;q=0.5`, 'text'],
    [`text/plain;q=0.2,${PROTOBUF};q=0.3`, 'protobuf'],
    // The most specific range sets text's q: text/plain over text/* over */*.
    [`${PROTOBUF};q=0.5,text/plain;q=0.1,*/*;q=1`, 'protobuf'],
    [`${PROTOBUF};q=0.5,text/*;q=0.9`, 'text'],
    [`${PROTOBUF};q=0.5,*/*;q=0.9`, 'text'],
    [`${PROTOBUF};q=0`, 'text'],
    // Spaces, case, quotes, other parameters.
    [
      'Application/Vnd.Google.Protobuf; proto="io.prometheus.client.MetricFamily"; encoding=Delimited; escaping=allow-utf-8',
      'protobuf',
    ],
    // Without its parameters, or with other ones, it is not our protobuf exposition.
    ['application/vnd.google.protobuf', 'text'],
    ['application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily', 'text'],
    ['application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=text', 'text'],
    ['application/vnd.google.protobuf;proto=io.prometheus.write.WriteRequest;encoding=delimited', 'text'],
    [`${PROTOBUF};q=junk,text/plain;q=0.1`, 'text'],
  ];
  for (const [accept, expected] of cases) t.equal(expositionFormat(accept), expected, `${accept}`);
  t.end();
});
