// The exec probe end to end: a real agent process, a workload whose exec count
// is known exactly, isolated by a cgroup filter, read back through /metrics.
import t from 'tap';

import { AgentProcess } from '../helpers/agent';
import { createCgroup } from '../helpers/cgroup';
import { writeConfig } from '../helpers/configFile';
import type { Sample } from '../helpers/metrics';
import { select, sumOf, valueOf } from '../helpers/metrics';
import { run } from '../helpers/process';
import { sleep } from '../helpers/teardown';

const EXECS = 200;

/** Scrapes until the exec count stops moving (three equal reads 150 ms apart), or 10 s pass. */
async function settledMetrics(agent: AgentProcess): Promise<Sample[]> {
  const deadline = Date.now() + 10000;
  let last = -1;
  let same = 0;
  for (;;) {
    const samples = await agent.metrics();
    const total = sumOf(samples, 'kernscope_process_execs_total');
    same = total === last ? same + 1 : 0;
    last = total;
    if ((total >= EXECS && same >= 2) || Date.now() > deadline) return samples;
    await sleep(150);
  }
}

void t.test('exec count under a cgroup filter is exact', async (t) => {
  const cgroup = createCgroup(t);
  // comm is an optional label: turned on for exec in the config file.
  const config = writeConfig(t, 'probes:\n  exec:\n    labels: [comm]\n');
  const agent = await AgentProcess.start(t, ['--config', config, '--cgroup', cgroup]);

  // Only shell builtins besides /bin/true: the shell's own exec happens before
  // it joins the cgroup, so exactly EXECS execs happen inside it.
  const script = `echo $$ > ${cgroup}/cgroup.procs; i=0; while [ $i -lt ${EXECS} ]; do /bin/true; i=$((i+1)); done`;
  const workload = await run('/bin/sh', ['-c', script], { timeoutMs: 60000 });
  t.same({ code: workload.code, stderr: workload.stderr }, { code: 0, stderr: '' }, 'workload ran');

  const samples = await settledMetrics(agent);
  t.equal(valueOf(samples, 'kernscope_process_execs_total', { comm: 'true' }), EXECS, 'execs of true');
  t.equal(sumOf(samples, 'kernscope_process_execs_total'), EXECS, 'nothing outside the cgroup counted');
  t.equal(valueOf(samples, 'kernscope_events_total', { probe: 'exec' }), EXECS, 'records drained');
  t.equal(valueOf(samples, 'kernscope_decode_errors_total', { probe: 'exec' }), 0, 'every record decoded');
  t.equal(valueOf(samples, 'kernscope_events_lost_total', { probe: 'exec' }), 0, 'no lost events');
  t.equal(valueOf(samples, 'kernscope_probe_up', { probe: 'exec' }), 1, 'probe up');
  t.same(
    select(samples, 'kernscope_probe_info', { probe: 'exec' }).map((s) => ({ ...s.labels, value: s.value })),
    [{ probe: 'exec', program: 'exec_tp_btf', attach: 'tp_btf', value: 1 }],
    'attached as tp_btf (the first variant this kernel supports)',
  );

  const exit = await agent.stop('SIGTERM', 5000);
  if (!t.same(exit, { code: 0, signal: null }, 'SIGTERM exits 0 within 5 s')) t.comment(agent.log);
});
