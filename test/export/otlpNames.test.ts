// Prometheus names to OTel names and units: the documented mapping, and no
// two kernscope families sharing an OTel name.
import t from 'tap';

import { otlpName } from '../../src/export/otlpNames';
import { BUILTIN_PROBES } from '../../src/probes';

void t.test('the mapping: dots for underscores, unit suffixes to units, _total off counters', (t) => {
  const cases: [string, 'counter' | 'gauge' | 'histogram', string, string][] = [
    ['kernscope_tcp_connect_duration_seconds', 'histogram', 'kernscope.tcp.connect.duration', 's'],
    ['kernscope_block_io_bytes_total', 'counter', 'kernscope.block.io', 'By'],
    ['kernscope_syscalls_total', 'counter', 'kernscope.syscalls', ''],
    ['kernscope_bpf_program_run_seconds_total', 'counter', 'kernscope.bpf.program.run', 's'],
    ['kernscope_probe_up', 'gauge', 'kernscope.probe.up', ''],
    ['kernscope_events_lost_total', 'counter', 'kernscope.events.lost', ''],
  ];
  for (const [prometheus, type, name, unit] of cases) t.same(otlpName(prometheus, type), { name, unit }, prometheus);
  t.end();
});

void t.test('every probe metric maps to its own OTel name', (t) => {
  const metrics = BUILTIN_PROBES.flatMap((p) => [
    ...p.recordMetrics.map((m) => ({ name: m.name, type: m.type })),
    ...p.mapMetrics.map((m) => ({ name: m.name, type: m.type })),
  ]);
  const byOtel = new Map<string, Set<string>>();
  for (const { name, type } of metrics) {
    const otel = otlpName(name, type).name;
    byOtel.set(otel, (byOtel.get(otel) ?? new Set()).add(name));
  }
  const clashes = [...byOtel].filter(([, names]) => names.size > 1);
  t.same(clashes, [], 'no two Prometheus names share an OTel name');
  t.end();
});
