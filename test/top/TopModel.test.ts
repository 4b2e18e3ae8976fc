// TopModel: rates per attribution unit from two snapshots of the agent's
// families, percentiles from bucket deltas, node-wide details; hand-written
// snapshots in the shapes MetricFamily.collect() returns.
import t from 'tap';

import type { HistogramSample, Labels, Sample } from '../../src/aggregate/MetricFamily';
import type { Cell, Snapshot, TopView } from '../../src/top/TopModel';
import { quantile, topViews } from '../../src/top/TopModel';

function snapshot(counters: Record<string, Sample[]>, histograms: Record<string, HistogramSample[]> = {}): Snapshot {
  return { counters: new Map(Object.entries(counters)), histograms: new Map(Object.entries(histograms)) };
}

const host = (container: string, labels: Labels = {}): Labels => ({ namespace: 'host', pod: '', container, ...labels });
const nginx = (labels: Labels = {}): Labels => ({
  namespace: 'default',
  pod: 'web-7d4',
  container: 'nginx',
  ...labels,
});

const BOUNDS = [1, 2, 4];
const histogram = (labels: Labels, counts: number[], sum = 0): HistogramSample => ({
  labels,
  bounds: BOUNDS,
  counts,
  sum,
  count: counts.reduce((a, b) => a + b, 0),
});

/** A view's rows by their text, so the assertions do not depend on the model's row order. */
const rowsOf = (rows: Cell[][]): Cell[][] =>
  [...rows].sort((a, b) => String(a.slice(0, 3)).localeCompare(String(b.slice(0, 3))));

function view(views: TopView[], name: string): TopView {
  const found = views.find((v) => v.name === name);
  if (!found) throw new Error(`no view ${name}`);
  return found;
}

void t.test('quantile: linear inside the bucket, the highest finite bound for +Inf, none for no observations', (t) => {
  t.equal(quantile(0.5, BOUNDS, [0, 10, 0, 0]), 1.5, 'half way through (1, 2]');
  t.equal(quantile(0.99, BOUNDS, [0, 10, 0, 0]), 1.99);
  t.equal(quantile(0.5, BOUNDS, [4, 0, 0, 0]), 0.5, 'the first bucket starts at 0');
  t.equal(quantile(0.5, BOUNDS, [1, 0, 3, 0]), 2 + (2 * 1) / 3, 'skips the empty bucket');
  t.equal(quantile(0.99, BOUNDS, [1, 0, 0, 5]), 4, 'in +Inf: the highest finite bound');
  t.equal(quantile(0.5, BOUNDS, [0, 0, 0, 0]), undefined);
  t.end();
});

void t.test('views: the five, in key order, with the sort column on a number', (t) => {
  const empty = snapshot({});
  const views = topViews(empty, empty, 1);
  t.same(
    views.map((v) => v.name),
    ['syscalls', 'process', 'tcp', 'runqueue', 'blockio'],
  );
  for (const v of views) {
    t.same(
      v.table.columns.slice(0, 3).map((c) => c.heading),
      ['NAMESPACE', 'POD', 'CONTAINER'],
      `${v.name}: rows are attribution units`,
    );
    t.not(v.table.columns[v.sortBy].kind, 'text', `${v.name}: sorted on a number`);
    t.same(v.table.rows, [], `${v.name}: nothing moved, no rows`);
  }
  t.end();
});

void t.test('syscalls: per row over every syscall, the busiest and its share; errors node-wide', (t) => {
  const before = snapshot({
    kernscope_syscalls_total: [
      { labels: host('a.service', { syscall: 'read' }), value: 100 },
      { labels: host('a.service', { syscall: 'getppid' }), value: 1000 },
      { labels: host('idle.scope', { syscall: 'read' }), value: 50 },
      { labels: nginx({ syscall: 'write' }), value: 10 },
    ],
    kernscope_syscall_errors_total: [
      { labels: { syscall: 'close', errno: 'EBADF' }, value: 5 },
      { labels: { syscall: 'read', errno: 'EAGAIN' }, value: 7 },
    ],
  });
  const after = snapshot({
    kernscope_syscalls_total: [
      { labels: host('a.service', { syscall: 'read' }), value: 300 },
      { labels: host('a.service', { syscall: 'getppid' }), value: 1800 },
      { labels: host('idle.scope', { syscall: 'read' }), value: 50 },
      { labels: nginx({ syscall: 'write' }), value: 30 },
      { labels: host('new.scope', { syscall: 'openat' }), value: 40 }, // appeared in the interval: from 0
    ],
    kernscope_syscall_errors_total: [
      { labels: { syscall: 'close', errno: 'EBADF' }, value: 11 },
      { labels: { syscall: 'read', errno: 'EAGAIN' }, value: 7 },
    ],
  });
  const syscalls = view(topViews(before, after, 2), 'syscalls');
  t.same(syscalls.table.columns.slice(3), [
    { heading: 'SYSCALLS/s', kind: 'rate' },
    { heading: 'BUSIEST', kind: 'text' },
  ]);
  t.same(rowsOf(syscalls.table.rows), [
    ['default', 'web-7d4', 'nginx', 10, 'write 100%'],
    ['host', '', 'a.service', 500, 'getppid 80%'],
    ['host', '', 'new.scope', 20, 'openat 100%'],
  ]);
  t.same(syscalls.detail?.rows, [['close', 'EBADF', 3]], 'errors per syscall and errno that moved');
  t.end();
});

void t.test('a counter that went down restarted from 0 (a series that expired and came back)', (t) => {
  const before = snapshot({ kernscope_syscalls_total: [{ labels: host('a', { syscall: 'read' }), value: 500 }] });
  const after = snapshot({ kernscope_syscalls_total: [{ labels: host('a', { syscall: 'read' }), value: 30 }] });
  t.same(view(topViews(before, after, 1), 'syscalls').table.rows, [['host', '', 'a', 30, 'read 100%']]);
  t.end();
});

void t.test('without attribution labels everything is one row with empty names', (t) => {
  const after = snapshot({ kernscope_process_execs_total: [{ labels: {}, value: 4 }] });
  t.same(view(topViews(snapshot({}), after, 1), 'process').table.rows, [['', '', '', 4, 0, 0, 0]]);
  t.end();
});

void t.test('process: execs, forks, exits of any reason, and exits by a signal', (t) => {
  const before = snapshot({
    kernscope_process_execs_total: [{ labels: host('build.service'), value: 10 }],
    kernscope_process_forks_total: [{ labels: host('build.service'), value: 12 }],
    kernscope_process_exits_total: [
      { labels: host('build.service', { reason: 'exit' }), value: 8 },
      { labels: host('build.service', { reason: 'signal' }), value: 1 },
    ],
  });
  const after = snapshot({
    kernscope_process_execs_total: [{ labels: host('build.service'), value: 410 }],
    kernscope_process_forks_total: [
      { labels: host('build.service'), value: 412 },
      { labels: nginx(), value: 4 },
    ],
    kernscope_process_exits_total: [
      { labels: host('build.service', { reason: 'exit' }), value: 398 },
      { labels: host('build.service', { reason: 'signal' }), value: 11 },
    ],
  });
  const process = view(topViews(before, after, 4), 'process');
  t.same(
    process.table.columns.slice(3).map((c) => c.heading),
    ['EXECS/s', 'FORKS/s', 'EXITS/s', 'KILLED/s'],
  );
  t.same(rowsOf(process.table.rows), [
    ['default', 'web-7d4', 'nginx', 0, 1, 0, 0],
    ['host', '', 'build.service', 100, 100, 100, 2.5],
  ]);
  t.end();
});

void t.test(
  'tcp: connections in + out, connect p99 from the bucket deltas, retransmits, resets sent + received',
  (t) => {
    const before = snapshot(
      {
        kernscope_tcp_connections_total: [{ labels: nginx({ direction: 'outbound' }), value: 100 }],
        kernscope_tcp_retransmits_total: [{ labels: nginx(), value: 3 }],
      },
      { kernscope_tcp_connect_duration_seconds: [histogram(nginx(), [0, 100, 0, 0])] },
    );
    const after = snapshot(
      {
        kernscope_tcp_connections_total: [
          { labels: nginx({ direction: 'outbound' }), value: 120 },
          { labels: nginx({ direction: 'inbound' }), value: 5 },
        ],
        kernscope_tcp_retransmits_total: [{ labels: nginx(), value: 4 }],
        kernscope_tcp_resets_total: [
          { labels: nginx({ direction: 'sent' }), value: 2 },
          { labels: nginx({ direction: 'received' }), value: 3 },
          // A reset answering a packet for no socket: no owner, empty labels.
          { labels: { namespace: '', pod: '', container: '', direction: 'sent' }, value: 1 },
        ],
      },
      // The 100 earlier connects took (1, 2]; the 20 of the interval (2, 4].
      { kernscope_tcp_connect_duration_seconds: [histogram(nginx(), [0, 100, 20, 0])] },
    );
    const tcp = view(topViews(before, after, 1), 'tcp');
    t.same(
      tcp.table.columns.slice(3).map((c) => c.heading),
      ['CONN/s', 'CONN p99', 'RETRANS/s', 'RESETS/s'],
    );
    t.same(rowsOf(tcp.table.rows), [
      ['', '', '', 0, undefined, 0, 1],
      ['default', 'web-7d4', 'nginx', 25, 2 + (2 * 0.99 * 20) / 20, 1, 5],
    ]);
    t.end();
  },
);

void t.test('runqueue: p50 and p99 of the waits in the interval only, waits/s', (t) => {
  const before = snapshot({}, { kernscope_runqueue_latency_seconds: [histogram(host('a.service'), [50, 0, 0, 0])] });
  const after = snapshot(
    {},
    {
      kernscope_runqueue_latency_seconds: [
        histogram(host('a.service'), [50, 10, 0, 0]),
        histogram(host('b.service'), [0, 0, 3, 1]),
      ],
    },
  );
  const runqueue = view(topViews(before, after, 2), 'runqueue');
  t.same(
    runqueue.table.columns.slice(3).map((c) => c.heading),
    ['RUNQ p50', 'RUNQ p99', 'WAITS/s'],
  );
  t.equal(runqueue.table.columns[runqueue.sortBy].heading, 'RUNQ p99', 'the longest waits first');
  t.same(rowsOf(runqueue.table.rows), [
    ['host', '', 'a.service', 1.5, 1.99, 5],
    ['host', '', 'b.service', 2 + (2 * 2) / 3, 4, 2],
  ]);
  t.end();
});

void t.test('blockio: bytes/s by row and op; per disk and op: I/Os/s, bytes/s over every row, p50, p99', (t) => {
  const before = snapshot({}, {});
  const after = snapshot(
    {
      kernscope_block_io_bytes_total: [
        { labels: host('db.service', { device: 'vda', op: 'read' }), value: 8192 },
        { labels: host('db.service', { device: 'vda', op: 'write' }), value: 4096 },
        { labels: nginx({ device: 'vda', op: 'write' }), value: 4096 },
        { labels: host('fstrim.service', { device: 'vda', op: 'discard' }), value: 1 << 20 },
      ],
    },
    {
      kernscope_block_io_duration_seconds: [
        histogram({ device: 'vda', op: 'read' }, [0, 2, 0, 0]),
        histogram({ device: 'vda', op: 'write' }, [2, 0, 0, 0]),
        histogram({ device: 'vdb', op: 'write' }, [0, 0, 0, 0]),
      ],
    },
  );
  const blockio = view(topViews(before, after, 1), 'blockio');
  t.same(
    blockio.table.columns.slice(3).map((c) => c.heading),
    ['READ B/s', 'WRITE B/s', 'OTHER B/s'],
  );
  t.same(rowsOf(blockio.table.rows), [
    ['default', 'web-7d4', 'nginx', 0, 4096, 0],
    ['host', '', 'db.service', 8192, 4096, 0],
    ['host', '', 'fstrim.service', 0, 0, 1 << 20],
  ]);
  t.same(
    blockio.detail?.columns.map((c) => c.heading),
    ['DISK', 'OP', 'IO/s', 'B/s', 'p50', 'p99'],
  );
  t.same(
    blockio.detail?.rows,
    [
      ['vda', 'read', 2, 8192, 1.5, 1.99],
      ['vda', 'write', 2, 8192, 0.5, 0.99],
    ],
    'disks that completed requests in the interval; their bytes summed over rows',
  );
  t.end();
});
