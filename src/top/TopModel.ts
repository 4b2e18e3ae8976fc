// What `kernscope top` shows, computed from two successive snapshots of the
// agent's metric families: per row, rates over the interval and, for
// histograms, percentiles of the observations made in the interval (from
// the bucket deltas). Rows are the agent's attribution units (namespace, pod,
// container; for a host process its cgroup), because the probes count by
// cgroup in the kernel. Pure: no agent, no clock, no terminal.
import type { HistogramSample, Labels, Sample } from '../aggregate/MetricFamily';

/** Every family's series at one moment, by family name. */
export interface Snapshot {
  counters: ReadonlyMap<string, readonly Sample[]>;
  histograms: ReadonlyMap<string, readonly HistogramSample[]>;
}

/** How a column's numbers read: events per second, bytes per second, seconds; text as it is. */
export type ColumnKind = 'text' | 'rate' | 'bytes' | 'seconds';

export interface Column {
  heading: string;
  kind: ColumnKind;
}

/** Text, a number, or undefined where there is no number (a percentile of no observations). */
export type Cell = string | number | undefined;

export interface Table {
  columns: readonly Column[];
  rows: Cell[][];
}

export interface TopView {
  /** Short name on the title line. */
  name: string;
  /** Rows by container; sortable. */
  table: Table;
  /** The column sorted on until the user picks another. */
  sortBy: number;
  /** Node-wide figures the kernel does not keep per container, sorted by their first number. */
  detail?: Table & { title: string };
}

const ROW_COLUMNS: readonly Column[] = [
  { heading: 'NAMESPACE', kind: 'text' },
  { heading: 'POD', kind: 'text' },
  { heading: 'CONTAINER', kind: 'text' },
];

/** A label set's attribution unit: the row it belongs to. */
function rowKey(labels: Labels): string {
  return JSON.stringify([labels.namespace ?? '', labels.pod ?? '', labels.container ?? '']);
}

/** The change of one series over the interval. */
interface Change {
  labels: Labels;
  value: number;
}

interface HistogramChange {
  labels: Labels;
  bounds: readonly number[];
  counts: number[];
  count: number;
}

/** A counter's increase; a value below the earlier one restarted from 0 (a series that expired and came back). */
const increase = (before: number | undefined, after: number): number =>
  before === undefined || after < before ? after : after - before;

function counterChanges(before: Snapshot, after: Snapshot, family: string): Change[] {
  const earlier = new Map((before.counters.get(family) ?? []).map((s) => [JSON.stringify(s.labels), s.value]));
  return (after.counters.get(family) ?? []).map(({ labels, value }) => ({
    labels,
    value: increase(earlier.get(JSON.stringify(labels)), value),
  }));
}

function histogramChanges(before: Snapshot, after: Snapshot, family: string): HistogramChange[] {
  const earlier = new Map((before.histograms.get(family) ?? []).map((s) => [JSON.stringify(s.labels), s]));
  return (after.histograms.get(family) ?? []).map(({ labels, bounds, counts, count }) => {
    const was = earlier.get(JSON.stringify(labels));
    if (!was || count < was.count || was.counts.length !== counts.length) return { labels, bounds, counts, count };
    return { labels, bounds, counts: counts.map((c, i) => c - was.counts[i]), count: count - was.count };
  });
}

/** Sums of the changes by `keyOf`, optionally only of those matching `where`. */
function sumBy(changes: Change[], keyOf: (l: Labels) => string, where = (_: Labels) => true): Map<string, number> {
  const sums = new Map<string, number>();
  for (const { labels, value } of changes) {
    if (where(labels)) sums.set(keyOf(labels), (sums.get(keyOf(labels)) ?? 0) + value);
  }
  return sums;
}

/** Histogram changes merged by `keyOf` (series of one family share their bounds). */
function mergeBy(changes: HistogramChange[], keyOf: (l: Labels) => string): Map<string, HistogramChange> {
  const merged = new Map<string, HistogramChange>();
  for (const change of changes) {
    const key = keyOf(change.labels);
    const into = merged.get(key);
    if (!into) merged.set(key, { ...change, counts: [...change.counts] });
    else {
      change.counts.forEach((c, i) => (into.counts[i] += c));
      into.count += change.count;
    }
  }
  return merged;
}

/**
 * The q-quantile of observations counted in buckets (counts per bucket, the
 * last one +Inf), interpolated linearly inside its bucket as Prometheus'
 * histogram_quantile does; the highest finite bound when it falls in +Inf;
 * undefined for no observations.
 */
export function quantile(q: number, bounds: readonly number[], counts: readonly number[]): number | undefined {
  const total = counts.reduce((a, b) => a + b, 0);
  if (total <= 0) return undefined;
  const rank = q * total;
  let below = 0;
  for (let i = 0; i < bounds.length; i++) {
    if (below + counts[i] >= rank && counts[i] > 0) {
      const low = i === 0 ? 0 : bounds[i - 1];
      return low + ((bounds[i] - low) * (rank - below)) / counts[i];
    }
    below += counts[i];
  }
  return bounds[bounds.length - 1];
}

/** The cells of a key that is a JSON list (rowKey's, a detail table's). */
const rowCells = (key: string): string[] => JSON.parse(key) as string[];

/** One row per key that moved in the interval: its cells, then `values(key)`. */
function rowsOf(keys: Iterable<string>, values: (key: string) => Cell[]): Cell[][] {
  return [...new Set(keys)]
    .map((key) => [...rowCells(key), ...values(key)])
    .filter((row) => row.some((cell) => typeof cell === 'number' && cell > 0));
}

/** A row's sum as a rate. */
const rate = (sums: Map<string, number>, key: string, seconds: number): number => (sums.get(key) ?? 0) / seconds;

function syscallsView(before: Snapshot, after: Snapshot, seconds: number): TopView {
  const calls = counterChanges(before, after, 'kernscope_syscalls_total');
  const byRow = sumBy(calls, rowKey);
  // The syscall each row made most, and its share of the row's calls.
  const busiest = new Map<string, Change>();
  for (const change of calls) {
    const key = rowKey(change.labels);
    if (change.value > (busiest.get(key)?.value ?? 0)) busiest.set(key, change);
  }
  const errors = sumBy(counterChanges(before, after, 'kernscope_syscall_errors_total'), (l) =>
    JSON.stringify([l.syscall ?? '', l.errno ?? '']),
  );
  return {
    name: 'syscalls',
    table: {
      columns: [...ROW_COLUMNS, { heading: 'SYSCALLS/s', kind: 'rate' }, { heading: 'BUSIEST', kind: 'text' }],
      rows: rowsOf(byRow.keys(), (key) => {
        const top = busiest.get(key);
        const share = top ? ` ${Math.round((100 * top.value) / byRow.get(key)!)}%` : '';
        return [byRow.get(key)! / seconds, top ? `${top.labels.syscall}${share}` : undefined];
      }),
    },
    sortBy: 3,
    detail: {
      title: 'syscall errors by syscall, node-wide (not kept per container)',
      columns: [
        { heading: 'SYSCALL', kind: 'text' },
        { heading: 'ERRNO', kind: 'text' },
        { heading: 'ERRORS/s', kind: 'rate' },
      ],
      rows: [...errors].filter(([, n]) => n > 0).map(([key, n]) => [...rowCells(key), n / seconds]),
    },
  };
}

function processView(before: Snapshot, after: Snapshot, seconds: number): TopView {
  const execs = sumBy(counterChanges(before, after, 'kernscope_process_execs_total'), rowKey);
  const forks = sumBy(counterChanges(before, after, 'kernscope_process_forks_total'), rowKey);
  const exitChanges = counterChanges(before, after, 'kernscope_process_exits_total');
  const exits = sumBy(exitChanges, rowKey);
  const killed = sumBy(exitChanges, rowKey, (l) => l.reason === 'signal');
  return {
    name: 'process',
    table: {
      columns: [
        ...ROW_COLUMNS,
        { heading: 'EXECS/s', kind: 'rate' },
        { heading: 'FORKS/s', kind: 'rate' },
        { heading: 'EXITS/s', kind: 'rate' },
        { heading: 'KILLED/s', kind: 'rate' },
      ],
      rows: rowsOf([...execs.keys(), ...forks.keys(), ...exits.keys()], (key) => [
        rate(execs, key, seconds),
        rate(forks, key, seconds),
        rate(exits, key, seconds),
        rate(killed, key, seconds),
      ]),
    },
    sortBy: 3,
  };
}

function tcpView(before: Snapshot, after: Snapshot, seconds: number): TopView {
  const connections = sumBy(counterChanges(before, after, 'kernscope_tcp_connections_total'), rowKey);
  const latency = mergeBy(histogramChanges(before, after, 'kernscope_tcp_connect_duration_seconds'), rowKey);
  const retransmits = sumBy(counterChanges(before, after, 'kernscope_tcp_retransmits_total'), rowKey);
  const resets = sumBy(counterChanges(before, after, 'kernscope_tcp_resets_total'), rowKey);
  return {
    name: 'tcp',
    table: {
      columns: [
        ...ROW_COLUMNS,
        { heading: 'CONN/s', kind: 'rate' },
        { heading: 'CONN p99', kind: 'seconds' },
        { heading: 'RETRANS/s', kind: 'rate' },
        { heading: 'RESETS/s', kind: 'rate' },
      ],
      rows: rowsOf([...connections.keys(), ...latency.keys(), ...retransmits.keys(), ...resets.keys()], (key) => {
        const h = latency.get(key);
        return [
          rate(connections, key, seconds),
          h && quantile(0.99, h.bounds, h.counts),
          rate(retransmits, key, seconds),
          rate(resets, key, seconds),
        ];
      }),
    },
    sortBy: 3,
  };
}

function runqueueView(before: Snapshot, after: Snapshot, seconds: number): TopView {
  const waits = mergeBy(histogramChanges(before, after, 'kernscope_runqueue_latency_seconds'), rowKey);
  return {
    name: 'runqueue',
    table: {
      columns: [
        ...ROW_COLUMNS,
        { heading: 'RUNQ p50', kind: 'seconds' },
        { heading: 'RUNQ p99', kind: 'seconds' },
        { heading: 'WAITS/s', kind: 'rate' },
      ],
      rows: rowsOf(waits.keys(), (key) => {
        const h = waits.get(key)!;
        return [quantile(0.5, h.bounds, h.counts), quantile(0.99, h.bounds, h.counts), h.count / seconds];
      }),
    },
    sortBy: 4,
  };
}

function blockioView(before: Snapshot, after: Snapshot, seconds: number): TopView {
  const bytes = counterChanges(before, after, 'kernscope_block_io_bytes_total');
  const read = sumBy(bytes, rowKey, (l) => l.op === 'read');
  const written = sumBy(bytes, rowKey, (l) => l.op === 'write');
  const other = sumBy(bytes, rowKey, (l) => l.op !== 'read' && l.op !== 'write'); // discard, flush
  const diskKey = (l: Labels): string => JSON.stringify([l.device ?? '', l.op ?? '']);
  const diskBytes = sumBy(bytes, diskKey);
  const latency = mergeBy(histogramChanges(before, after, 'kernscope_block_io_duration_seconds'), diskKey);
  return {
    name: 'blockio',
    table: {
      columns: [
        ...ROW_COLUMNS,
        { heading: 'READ B/s', kind: 'bytes' },
        { heading: 'WRITE B/s', kind: 'bytes' },
        { heading: 'OTHER B/s', kind: 'bytes' },
      ],
      rows: rowsOf([...read.keys(), ...written.keys(), ...other.keys()], (key) => [
        rate(read, key, seconds),
        rate(written, key, seconds),
        rate(other, key, seconds),
      ]),
    },
    sortBy: 3,
    detail: {
      title: 'block I/O by disk and operation, node-wide (latency is not kept per container)',
      columns: [
        { heading: 'DISK', kind: 'text' },
        { heading: 'OP', kind: 'text' },
        { heading: 'IO/s', kind: 'rate' },
        { heading: 'B/s', kind: 'bytes' },
        { heading: 'p50', kind: 'seconds' },
        { heading: 'p99', kind: 'seconds' },
      ],
      rows: [...latency]
        .filter(([, h]) => h.count > 0)
        .map(([key, h]) => [
          ...rowCells(key),
          h.count / seconds,
          rate(diskBytes, key, seconds),
          quantile(0.5, h.bounds, h.counts),
          quantile(0.99, h.bounds, h.counts),
        ]),
    },
  };
}

/** Every view, in the order of their keys 1..5, for the `seconds` between two snapshots. */
export function topViews(before: Snapshot, after: Snapshot, seconds: number): TopView[] {
  return [syscallsView, processView, tcpView, runqueueView, blockioView].map((view) => view(before, after, seconds));
}
