// The series cap of a kernel-map metric, end to end: a real agent with
// --max-series 3 and the syscall_counts probe sees far more than three
// syscalls; the rest fold into __overflow__, and kernscope_series_overflow_total
// counts what they hold (before issue 15 only ring-record metrics were counted).
import t from 'tap';

import { AgentProcess } from '../helpers/agent';
import type { Sample } from '../helpers/metrics';
import { select, valueOf } from '../helpers/metrics';
import { run } from '../helpers/process';

const CAP = 3;
const METRIC = 'kernscope_syscalls_total';

/** Each metric's __overflow__ value beside what kernscope_series_overflow_total says of it. */
function overflowOf(samples: Sample[]): { metric: string; folded: number; counted: number | undefined }[] {
  return samples
    .filter((s) => s.name !== 'kernscope_series_overflow_total' && Object.values(s.labels).includes('__overflow__'))
    .map((s) => ({
      metric: s.name,
      folded: s.value,
      counted: valueOf(samples, 'kernscope_series_overflow_total', { metric: s.name }),
    }));
}

void t.test('map metrics count what they fold into __overflow__', async (t) => {
  const agent = await AgentProcess.start(t, [
    '--probes',
    'syscall_counts',
    '--max-series',
    String(CAP),
    '--attribution',
    'false',
  ]);
  for (let scrape = 1; scrape <= 2; scrape++) {
    // A process start alone makes dozens of distinct syscalls.
    const workload = await run('/bin/sh', ['-c', 'ls / > /dev/null; cat /proc/self/status > /dev/null'], {
      timeoutMs: 10000,
    });
    t.equal(workload.code, 0, 'workload ran');
    const samples = await agent.metrics();
    const series = select(samples, METRIC);
    t.equal(series.length, CAP + 1, `scrape ${scrape}: ${CAP} syscalls of their own and __overflow__`);
    const overflow = overflowOf(samples);
    const calls = overflow.find((o) => o.metric === METRIC);
    t.ok(calls && calls.folded > 0, `scrape ${scrape}: syscalls beyond the cap fold into __overflow__`);
    t.same(
      overflow.map((o) => o.counted),
      overflow.map((o) => o.folded),
      `scrape ${scrape}: each metric's overflow count is what its __overflow__ series holds (no series moved)`,
    );
  }
  const exit = await agent.stop('SIGTERM', 5000);
  if (!t.same(exit, { code: 0, signal: null }, 'SIGTERM exits 0')) t.comment(agent.log);
});
