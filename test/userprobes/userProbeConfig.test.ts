// NAME.yaml read strictly: what ebpf_exporter's format says is understood as
// there; everything else is one line naming the file, the key and the fix.
import t from 'tap';

import { UserProbeError } from '../../src/userprobes/UserProbeError';
import { parseUserProbeConfig } from '../../src/userprobes/userProbeConfig';

const FILE = '/probes/p.yaml';

const COUNTER = `metrics:
  counters:
    - name: drops_total
      help: Drops by port
      labels:
        - name: port
          size: 2
          padding: 2
          decoders:
            - name: uint
            - name: static_map
              allow_unknown: true
              static_map:
                53: dns
`;

void t.test('a counter: labels with size, padding and a decoder chain', (t) => {
  const config = parseUserProbeConfig(COUNTER, FILE);
  t.same(config.kaddrs, []);
  t.equal(config.metrics.length, 1);
  const [metric] = config.metrics;
  t.same(
    { kind: metric.kind, name: metric.name, help: metric.help, key: metric.key },
    { kind: 'counter', name: 'drops_total', help: 'Drops by port', key: 'metrics.counters[0]' },
  );
  t.same(metric.labels, [
    {
      name: 'port',
      size: 2,
      padding: 2,
      decoders: [{ name: 'uint' }, { name: 'static_map', allow_unknown: true, static_map: { '53': 'dns' } }],
    },
  ]);
  t.end();
});

void t.test('histograms: bucket types, the multiplier (0 reads as 1), fixed keys, kaddrs', (t) => {
  const config = parseUserProbeConfig(
    `kaddrs: [jiffies]
metrics:
  histograms:
    - name: lat_seconds
      help: h
      bucket_type: exp2zero
      bucket_min: 0
      bucket_max: 20
      bucket_multiplier: 0
      labels:
        - {name: bucket, size: 8, decoders: [{name: uint}]}
    - name: sizes
      help: h
      bucket_type: fixed
      bucket_keys: [1, 4, 16]
      bucket_multiplier: 512
      labels:
        - {name: op, size: 4, decoders: [{name: uint}]}
        - {name: bucket, size: 4, decoders: [{name: uint}]}
`,
    FILE,
  );
  t.same(config.kaddrs, ['jiffies']);
  const [exp2zero, fixed] = config.metrics;
  t.same(
    [exp2zero.bucketType, exp2zero.bucketMin, exp2zero.bucketMax, exp2zero.bucketMultiplier],
    ['exp2zero', 0, 20, 1],
  );
  t.same([fixed.bucketType, fixed.bucketKeys, fixed.bucketMultiplier], ['fixed', [1, 4, 16], 512]);
  t.end();
});

const histogram = (fields: string, labels = '        - {name: bucket, size: 4, decoders: [{name: uint}]}') =>
  `metrics:\n  histograms:\n    - name: h\n      help: h\n${fields}      labels:\n${labels}\n`;

/** Each bad config and the one line it must give. */
const BAD: [what: string, yaml: string, message: string][] = [
  [
    'YAML syntax',
    'metrics: [',
    `${FILE}: cannot parse: Flow sequence in block collection must be sufficiently indented and end with a ] at line 1, column 11`,
  ],
  [
    'an unknown top-level key',
    'metric: {}',
    `${FILE}: metric: unknown key; expected one of metrics, kaddrs, tracing, cgroup_id_map, trace`,
  ],
  ['no metrics', 'metrics: {}', `${FILE}: metrics: no counters or histograms; add at least one`],
  [
    'tracing spans',
    'tracing: {spans: []}',
    `${FILE}: tracing: spans are not supported: remove the section (a \`trace:\` section shows records in kernscope trace)`,
  ],
  [
    'an unknown metric key',
    'metrics: {counters: [{name: a, help: b, lables: []}]}',
    `${FILE}: metrics.counters[0].lables: unknown key; expected one of name, help, labels, perf_event_array, flush_interval`,
  ],
  [
    'a counter without help',
    'metrics: {counters: [{name: a}]}',
    `${FILE}: metrics.counters[0].help: expected text, got nothing`,
  ],
  [
    'a bad metric name',
    'metrics: {counters: [{name: "a-b", help: b}]}',
    `${FILE}: metrics.counters[0].name: expected a Prometheus metric name, got "a-b"`,
  ],
  [
    'a label without size',
    'metrics: {counters: [{name: a, help: b, labels: [{name: x, decoders: [{name: uint}]}]}]}',
    `${FILE}: metrics.counters[0].labels[0].size: expected an integer of at least 1, got nothing`,
  ],
  [
    'a label without decoders',
    'metrics: {counters: [{name: a, help: b, labels: [{name: x, size: 4}]}]}',
    `${FILE}: metrics.counters[0].labels[0].decoders: no decoders; add at least one (uint for a number)`,
  ],
  [
    'an unknown decoder',
    'metrics: {counters: [{name: a, help: b, labels: [{name: x, size: 4, decoders: [{name: unit}]}]}]}',
    `${FILE}: metrics.counters[0].labels[0].decoders[0].name: unknown decoder 'unit'; expected one of uint, string, hex, static_map, regexp, ksym, kstack, syscall, errno, majorminor, inet_ip, cgroup, dname, ifname, pci_vendor, pci_device, pci_class, pci_subclass`,
  ],
  [
    'uint over 3 bytes',
    'metrics: {counters: [{name: a, help: b, labels: [{name: x, size: 3, decoders: [{name: uint}]}]}]}',
    `${FILE}: metrics.counters[0].labels[0].decoders[0].name: uint reads 1, 2, 4 or 8 bytes, but the label's size is 3`,
  ],
  [
    'cgroup on raw bytes',
    'metrics: {counters: [{name: a, help: b, labels: [{name: x, size: 8, decoders: [{name: cgroup}]}]}]}',
    `${FILE}: metrics.counters[0].labels[0].decoders[0].name: cgroup reads the decimal text of a number: put a uint decoder before it`,
  ],
  [
    'perf event array counters',
    'metrics: {counters: [{name: a, help: b, perf_event_array: true}]}',
    `${FILE}: metrics.counters[0].perf_event_array: counters from perf event arrays are not supported; count in a hash map instead`,
  ],
  [
    'an unknown bucket type',
    histogram('      bucket_type: log2\n'),
    `${FILE}: metrics.histograms[0].bucket_type: expected one of exp2, exp2zero, linear, fixed, got "log2"`,
  ],
  [
    'bucket_max not above bucket_min',
    histogram('      bucket_type: exp2\n      bucket_min: 4\n      bucket_max: 4\n'),
    `${FILE}: metrics.histograms[0].bucket_max: must be above bucket_min (4)`,
  ],
  [
    'a bucket not decoded with uint',
    histogram(
      '      bucket_type: linear\n      bucket_max: 4\n',
      '        - {name: bucket, size: 4, decoders: [{name: hex}]}',
    ),
    `${FILE}: metrics.histograms[0].labels[0].decoders: the bucket (the last label) must be decoded with uint alone`,
  ],
  [
    'fixed keys out of order',
    histogram('      bucket_type: fixed\n      bucket_keys: [4, 2]\n'),
    `${FILE}: metrics.histograms[0].bucket_keys: bucket keys must be ascending`,
  ],
  [
    'a trace section without labels',
    'metrics: {counters: [{name: a, help: b}]}\ntrace: {ringbuf: events}',
    `${FILE}: trace.labels: no labels; describe the record's fields`,
  ],
  [
    'a metric defined twice',
    'metrics: {counters: [{name: a, help: b}, {name: a, help: c}]}',
    `${FILE}: metrics: metric a is defined twice; each metric reads the map of its name`,
  ],
];

void t.test('bad configs: one line each, naming the file, the key and the fix', (t) => {
  for (const [what, yaml, message] of BAD) {
    let thrown: unknown;
    try {
      parseUserProbeConfig(yaml, FILE);
    } catch (error) {
      thrown = error;
    }
    t.ok(thrown instanceof UserProbeError, `${what}: refused`);
    t.equal((thrown as Error).message, message, what);
    t.notOk((thrown as Error).message.includes('\n'), `${what}: one line`);
  }
  t.end();
});
