// The syscalls probe against a workload whose syscalls are known exactly: a
// process filtered by pid makes N getppid() calls and K failing close() calls,
// from a cgroup the test creates (the counts carry its attribution).
import { writeFileSync } from 'node:fs';
import path from 'node:path';

import t from 'tap';

import { AgentProcess } from '../helpers/agent';
import { createCgroup } from '../helpers/cgroup';
import { syscallWorkload } from '../helpers/syscallWorkload';
import { select, valueOf } from '../helpers/metrics';

const CALLS = 5000;
const FAILURES = 37;

void t.test('getppid count and latency histogram are exact for the filtered process', async (t) => {
  const workload = await syscallWorkload(t, { getppid: CALLS, badCloses: FAILURES });
  const cgroup = createCgroup(t);
  writeFileSync(path.join(cgroup, 'cgroup.procs'), String(workload.pid));
  const agent = await AgentProcess.start(t, ['--probes', 'syscalls', '--pid', String(workload.pid)]);
  await workload.run();

  const samples = await agent.metrics();
  t.same(
    select(samples, 'kernscope_syscalls_total', { syscall: 'getppid' }),
    [
      {
        name: 'kernscope_syscalls_total',
        labels: { syscall: 'getppid', namespace: 'host', pod: '', container: path.basename(cgroup) },
        value: CALLS,
      },
    ],
    'getppid calls, by the cgroup that made them',
  );
  t.equal(
    valueOf(samples, 'kernscope_syscall_duration_seconds_count', { syscall: 'getppid' }),
    CALLS,
    'histogram count',
  );
  const buckets = select(samples, 'kernscope_syscall_duration_seconds_bucket', { syscall: 'getppid' });
  t.equal(buckets.find((b) => b.labels.le === '+Inf')?.value, CALLS, '+Inf bucket holds every call');
  const les = buckets.map((b) => b.labels.le);
  t.same(les.slice(0, 2), ['0.000001024', '0.000004096'], 'bucket bounds are log2 slot edges in seconds');
  const sum = valueOf(samples, 'kernscope_syscall_duration_seconds_sum', { syscall: 'getppid' }) ?? 0;
  t.ok(sum > 0 && sum < CALLS * 1e-3, `latency sum is plausible (${sum} s for ${CALLS} calls)`);
  t.equal(
    valueOf(samples, 'kernscope_syscall_errors_total', { syscall: 'close', errno: 'EBADF' }),
    FAILURES,
    'EBADF closes',
  );
  t.equal(valueOf(samples, 'kernscope_syscall_errors_total', { syscall: 'getppid' }), undefined, 'getppid never fails');
  t.equal(valueOf(samples, 'kernscope_events_lost_total', { probe: 'syscalls' }), 0, 'nothing lost');
});
