// Prometheus family names to OpenTelemetry metric names and units: the
// reverse of the OTel-to-Prometheus rule (dots become underscores, the unit
// becomes a suffix, counters gain `_total`), so either name finds the other.
//   kernscope_tcp_connect_duration_seconds -> kernscope.tcp.connect.duration, unit s
//   kernscope_block_io_bytes_total         -> kernscope.block.io, unit By (bytes moved, as system.disk.io)
//   kernscope_syscalls_total               -> kernscope.syscalls, no unit (a count)

export interface OtlpName {
  name: string;
  unit: string;
}

/** Prometheus unit suffixes and their UCUM units. */
const UNIT_SUFFIXES: readonly [suffix: string, unit: string][] = [
  ['_seconds', 's'],
  ['_bytes', 'By'],
];

export function otlpName(prometheusName: string, type: 'counter' | 'gauge' | 'histogram'): OtlpName {
  let base = type === 'counter' ? prometheusName.replace(/_total$/, '') : prometheusName;
  let unit = '';
  for (const [suffix, ucum] of UNIT_SUFFIXES) {
    if (base.endsWith(suffix)) {
      base = base.slice(0, -suffix.length);
      unit = ucum;
      break;
    }
  }
  return { name: base.replaceAll('_', '.'), unit };
}
