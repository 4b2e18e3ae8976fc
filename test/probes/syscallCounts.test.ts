// The syscall_counts probe: counts and errors exact for a known workload,
// through one program at sys_exit, and no latency histogram.
import t from 'tap';

import { AgentProcess } from '../helpers/agent';
import { syscallWorkload } from '../helpers/syscallWorkload';
import { select, valueOf } from '../helpers/metrics';

const CALLS = 4000;
const FAILURES = 23;

void t.test('getppid calls and EBADF closes are exact, with no latency histogram', async (t) => {
  const workload = await syscallWorkload(t, { getppid: CALLS, badCloses: FAILURES });
  const agent = await AgentProcess.start(t, ['--probes', 'syscall_counts', '--pid', String(workload.pid)]);
  await workload.run();

  const samples = await agent.metrics();
  t.equal(valueOf(samples, 'kernscope_syscalls_total', { syscall: 'getppid' }), CALLS, 'getppid calls');
  t.equal(
    valueOf(samples, 'kernscope_syscall_errors_total', { syscall: 'close', errno: 'EBADF' }),
    FAILURES,
    'EBADF closes',
  );
  t.same(select(samples, 'kernscope_syscall_duration_seconds_count', {}), [], 'no latency histogram');
  t.same(
    select(samples, 'kernscope_probe_info', { probe: 'syscall_counts' }).map((s) => s.labels.program),
    ['syscall_counts_tp_btf'],
    'one program, at sys_exit',
  );
  t.equal(valueOf(samples, 'kernscope_events_lost_total', { probe: 'syscall_counts' }), 0, 'nothing lost');
});
