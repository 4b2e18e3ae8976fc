// `kernscope stats`: the text tables on their own (slot ranges, bars, empty
// histograms, counter rows), then the command as a real subprocess against
// workloads of known size (getppid calls of one process, execs and spinners
// in a cgroup of their own), bad usage as one line and exit 2, and nothing
// left in the kernel after --count ends it.
import type { ChildProcessByStdio } from 'node:child_process';
import type { Readable } from 'node:stream';

import t from 'tap';

import type { CounterRow } from '../../src/cli/histogramText';
import { BAR_WIDTH, counterText, latencyHistogramText } from '../../src/cli/histogramText';
import { WORKLOADS } from '../e2e/families';
import { bpfIdsOf, waitGone } from '../helpers/bpftool';
import { createCgroup, execsIn } from '../helpers/cgroup';
import { CLI } from '../helpers/paths';
import type { Exit } from '../helpers/process';
import { lines, runNode, spawnClean } from '../helpers/process';
import { syscallWorkload } from '../helpers/syscallWorkload';
import type { HasTeardown } from '../helpers/teardown';
import { waitFor } from '../helpers/teardown';

/** Every slot edge of a schema-0 latency histogram (2^-30 .. 2^33 s), as `stats` asks for them. */
const EDGES = Array.from({ length: 64 }, (_, i) => 2 ** (i - 30));

/** Bucket counts with `counts[bucket]` set, the rest 0: bucket b ends at 2^(b-30) s, the last is +Inf. */
function countsWith(counts: Record<number, number>): number[] {
  return Array.from({ length: EDGES.length + 1 }, (_, bucket) => counts[bucket] ?? 0);
}

void t.test('latencyHistogramText: slot ranges in one unit, bars scaled to the largest slot', (t) => {
  const text = latencyHistogramText('lat op=read', {
    bounds: EDGES,
    counts: countsWith({ 10: 40, 12: 10, 13: 1 }),
    sum: 51 * 2e-6,
  });
  t.equal(
    text,
    [
      'lat op=read',
      '     nsecs               : count    distribution',
      `     476.8 -> 953.7      : 40       |${'*'.repeat(40)}|`,
      `     953.7 -> 1907       : 0        |${' '.repeat(40)}|`,
      `      1907 -> 3815       : 10       |${'*'.repeat(10)}${' '.repeat(30)}|`,
      `      3815 -> 7629       : 1        |*${' '.repeat(39)}|`,
      '     count 51, mean 2 usecs',
      '',
    ].join('\n'),
  );
  t.end();
});

void t.test('latencyHistogramText: usecs once the last range starts at 1000 us; the first and last slots', (t) => {
  const usecs = lines(latencyHistogramText('x', { bounds: EDGES, counts: countsWith({ 12: 3, 22: 7 }), sum: 0 }));
  t.match(usecs[1], /^ {5}usecs +: count +distribution$/);
  t.match(usecs[2], /^ +1\.907 -> 3\.815 +: 3 +\|\*{17} {23}\|$/, '3 of 7: 17 stars (rounded down)');
  t.match(usecs.at(-2), /^ +1953 -> 3906 +: 7 +\|\*{40}\|$/, '2^-9 .. 2^-8 s, rounded to whole usecs');
  t.equal(usecs.length, 2 + 11 + 1, 'title, heading, buckets 12..22, count');
  const ends = lines(latencyHistogramText('x', { bounds: EDGES, counts: countsWith({ 0: 1, 64: 1 }), sum: 2 ** 34 }));
  t.match(ends[1], /^ {5}secs /, 'the last range starts at 2^33 s');
  t.match(ends[2], /^ +0 -> 9\.313e-10 +: 1 /, 'the first bucket: zeros and one unit, 2^-30 s');
  t.match(ends.at(-2), /^ +8589934592 -> inf +: 1 /, 'the last bucket: past 2^33 s');
  t.equal(ends.at(-1), '     count 2, mean 8589934592 secs');
  t.end();
});

void t.test('latencyHistogramText: an empty histogram is one line', (t) => {
  t.equal(
    latencyHistogramText('kernscope_x_seconds', { bounds: EDGES, counts: countsWith({}), sum: 0 }),
    'kernscope_x_seconds: no events\n',
  );
  t.equal(
    latencyHistogramText('kernscope_x_seconds', { bounds: [], counts: [], sum: 0 }),
    'kernscope_x_seconds: no events\n',
  );
  t.end();
});

void t.test('counterText: rows that moved, largest first, at most the limit; a total on one line', (t) => {
  const rows: CounterRow[] = [
    { labels: { syscall: 'read' }, value: 5 },
    { labels: { syscall: 'write' }, value: 0 },
    { labels: { syscall: 'close', errno: 'EBADF' }, value: 9 },
    { labels: { syscall: 'openat' }, value: 5 },
  ];
  t.equal(
    counterText('c_total', rows, 2),
    ['c_total (top 2 of 3)', '         9  syscall=close errno=EBADF', '         5  syscall=openat', ''].join('\n'),
  );
  t.equal(counterText('c_total', rows.slice(1, 2), 20), 'c_total 0\n', 'nothing moved');
  t.equal(counterText('c_total', [{ labels: {}, value: 3 }], 20), 'c_total 3\n', 'no labels');
  t.equal(counterText('c_total', [{ labels: { comm: 'a b' }, value: 1 }], 20), 'c_total\n         1  comm="a b"\n');
  t.end();
});

interface Stats {
  child: ChildProcessByStdio<null, Readable, Readable>;
  output: { stdout: string; stderr: string };
  /** Resolves once the child exited and its output was read to the end. */
  closed: Promise<Exit>;
}

/** Starts `kernscope stats args...` and resolves once the probe is attached (the first interval has begun). */
async function startStats(t: HasTeardown, args: string[]): Promise<Stats> {
  const child = spawnClean(process.execPath, [CLI, 'stats', ...args]);
  t.teardown(() => void child.kill('SIGKILL'));
  const output = { stdout: '', stderr: '' };
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (output.stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (output.stderr += chunk));
  const closed = new Promise<Exit>((resolve) => child.once('close', (code, signal) => resolve({ code, signal })));
  await waitFor(
    `stats ${args.join(' ')} to attach`,
    () => {
      if (child.exitCode !== null) throw new Error(`stats exited ${child.exitCode}: ${output.stderr}`);
      return / attached \(/.test(output.stderr) ? true : undefined;
    },
    { timeoutMs: 30000 },
  );
  return { child, output, closed };
}

interface Table {
  title: string;
  rows: { count: number; stars: number }[];
  /** The `count N, mean ...` line's N. */
  count: number;
}

/** Every histogram table printed, over all intervals. */
function tables(stdout: string): Table[] {
  const all = stdout.split('\n');
  const found: Table[] = [];
  all.forEach((line, i) => {
    if (!/^ {5}(nsecs|usecs|msecs|secs) +: count +distribution$/.test(line)) return;
    const table: Table = { title: all[i - 1], rows: [], count: NaN };
    for (const row of all.slice(i + 1)) {
      const slot = /^ *\S+ -> \S+ +: (\d+) +\|(\**) *\|$/.exec(row);
      if (slot) table.rows.push({ count: Number(slot[1]), stars: slot[2].length });
      else {
        table.count = Number(/^ {5}count (\d+), mean /.exec(row)?.[1]);
        break;
      }
    }
    found.push(table);
  });
  return found;
}

/** The sum of the counter rows `N  labels` (over all intervals). */
function counterSum(stdout: string, labels: string): number {
  const rows = stdout.split('\n').map((line) => /^ *(\d+) {2}(.*)$/.exec(line));
  return rows.reduce((sum, row) => sum + (row && row[2] === labels ? Number(row[1]) : 0), 0);
}

function checkTable(t: tap.Test, table: Table): void {
  const sum = table.rows.reduce((a, r) => a + r.count, 0);
  t.equal(sum, table.count, `${table.title}: the slots add up to the count`);
  t.equal(Math.max(...table.rows.map((r) => r.stars)), BAR_WIDTH, `${table.title}: the largest slot has the full bar`);
}

void t.test('stats syscalls --pid: exactly the workload getppid calls and EBADF closes', async (t) => {
  const CALLS = 3000;
  const FAILURES = 11;
  const workload = await syscallWorkload(t, { getppid: CALLS, badCloses: FAILURES });
  // Two intervals: the calls land in one of them or straddle the print between.
  const stats = await startStats(t, ['syscalls', '--pid', String(workload.pid), '--count', '2', '--interval', '1']);
  await workload.run();
  t.same(await stats.closed, { code: 0, signal: null }, '--count 2 ends it, exit 0');
  const { stdout } = stats.output;
  t.equal(stdout.match(/^\d\d:\d\d:\d\d {2}syscalls, the last 1 s$/gm)?.length, 2, 'two intervals');
  const getppid = tables(stdout).filter(
    (table) => table.title === 'kernscope_syscall_duration_seconds syscall=getppid',
  );
  t.ok(getppid.length >= 1, `a getppid histogram:\n${stdout}`);
  for (const table of getppid) checkTable(t, table);
  t.equal(
    getppid.reduce((sum, table) => sum + table.count, 0),
    CALLS,
    'the getppid histograms count every call',
  );
  t.equal(counterSum(stdout, 'syscall=getppid'), CALLS, 'kernscope_syscalls_total: every getppid call');
  t.equal(counterSum(stdout, 'syscall=close errno=EBADF'), FAILURES, 'kernscope_syscall_errors_total: every EBADF');
});

void t.test('stats runqueue --cgroup: spinners wait, the slots add up to the count; nothing left after', async (t) => {
  const prepared = await WORKLOADS.runqueue.prepare(t);
  const stats = await startStats(t, ['runqueue', '--cgroup', prepared.settings.cgroup as string, '--count', '1']);
  const ids = bpfIdsOf(stats.child.pid!);
  t.ok(ids.progIds.length > 0, 'stats holds its programs');
  await prepared.run(); // two spinners pinned to one CPU for a second
  t.same(await stats.closed, { code: 0, signal: null }, '--count 1 ends it, exit 0');
  const [table, ...more] = tables(stats.output.stdout);
  t.equal(more.length, 0, 'one histogram, one interval');
  t.equal(table?.title, 'kernscope_runqueue_latency_seconds');
  if (!table) return;
  t.ok(table.count > 0, `the spinners waited (${table.count} times)`);
  checkTable(t, table);
  t.same(
    await waitGone(ids.progIds, ids.linkIds, 2500, ids.mapIds),
    { progs: [], links: [], maps: [] },
    'no program, link or map left',
  );
});

void t.test('stats exec --cgroup: ring-record counters too, by command name', async (t) => {
  const EXECS = 20;
  const cgroup = createCgroup(t);
  const stats = await startStats(t, ['exec', '--cgroup', cgroup, '--count', '2', '--interval', '1']);
  await execsIn(cgroup, EXECS);
  t.same(await stats.closed, { code: 0, signal: null });
  t.equal(counterSum(stats.output.stdout, 'comm=true'), EXECS, 'kernscope_process_execs_total{comm=true}');
  t.equal(tables(stats.output.stdout).length, 0, 'exec has no histogram');
});

async function usageError(t: tap.Test, args: string[], pattern: RegExp): Promise<void> {
  const result = await runNode(CLI, ['stats', ...args], 15000);
  t.equal(result.code, 2, `exit 2 for stats ${args.join(' ')}`);
  t.equal(result.stdout, '', 'nothing on stdout');
  const errorLines = lines(result.stderr);
  t.equal(errorLines.length, 1, `one line on stderr: ${JSON.stringify(result.stderr)}`);
  t.match(errorLines[0], pattern);
}

void t.test('an unknown probe names the probes that work', (t) =>
  usageError(t, ['nosuch'], /^kernscope: no stats for probe 'nosuch': expected one of .*runqueue.*/),
);
void t.test('no probe', (t) => usageError(t, [], /stats takes one probe, one of .*syscalls/));
void t.test('--interval 0', (t) => usageError(t, ['runqueue', '--interval', '0'], /--interval.*"0"/));
void t.test('--interval abc', (t) => usageError(t, ['runqueue', '--interval', 'abc'], /--interval/));
void t.test('--count 0', (t) => usageError(t, ['runqueue', '--count', '0'], /--count.*"0"/));
void t.test('--pid 0, checked as the agent checks it', (t) =>
  usageError(t, ['runqueue', '--pid', '0'], /invalid --pid: "0"; expected a positive process id/),
);
void t.test('--cgroup that does not exist', (t) =>
  usageError(t, ['runqueue', '--cgroup', 'kernscope-no-such'], /--cgroup.*kernscope-no-such does not exist/),
);
void t.test('unknown option', (t) => usageError(t, ['runqueue', '--bogus'], /bogus/));

void t.test('stats --help: exit 0, examples', async (t) => {
  const result = await runNode(CLI, ['stats', '--help'], 15000);
  t.equal(result.code, 0);
  t.match(result.stdout, /kernscope stats runqueue/);
  t.match(result.stdout, /since the previous print/);
});
