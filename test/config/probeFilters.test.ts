// Per-probe settings against the real kernel, in one agent: the syscalls probe
// filtered by command name (comm, compared in the kernel), the exec probe by a
// cgroup, and exec's optional comm label left off (one series).
import path from 'node:path';

import t from 'tap';

import { AgentProcess } from '../helpers/agent';
import { createCgroup } from '../helpers/cgroup';
import { writeConfig } from '../helpers/configFile';
import { GatedWorkload } from '../helpers/gatedWorkload';
import { select, valueOf } from '../helpers/metrics';
import { run } from '../helpers/process';
import { waitFor } from '../helpers/teardown';

const CALLS = 3000;
const OTHER_CALLS = 4000;
const FAILURES = 23;
const EXECS = 25;

void t.test('a comm filter counts only that command; each probe keeps its own filter', async (t) => {
  const comm = `ks-comm-${process.pid % 100000}`;
  const cgroup = createCgroup(t);
  const config = writeConfig(
    t,
    `probes:\n  exec:\n    cgroup: ${cgroup}\n  syscalls:\n    comm: ${comm}\nseries_ttl: 0\n`,
  );
  // The target renames itself (the comm filter sees the new name from then on);
  // another python3 process makes getppid() calls at the same time.
  const target = GatedWorkload.start(
    t,
    `open('/proc/self/comm', 'w').write(${JSON.stringify(comm)})\nfor _ in range(${CALLS}):\n    os.getppid()\nfor _ in range(${FAILURES}):\n    try:\n        os.close(987654)\n    except OSError:\n        pass`,
  );
  const other = GatedWorkload.start(t, `for _ in range(${OTHER_CALLS}):\n    os.getppid()`);
  await Promise.all([target.started(), other.started()]);
  const agent = await AgentProcess.start(t, ['--config', config]);

  await Promise.all([target.run(), other.run()]);
  const script = `echo $$ > ${cgroup}/cgroup.procs; i=0; while [ $i -lt ${EXECS} ]; do /bin/true; i=$((i+1)); done`;
  const workload = await run('/bin/sh', ['-c', script], { timeoutMs: 30000 });
  t.equal(workload.code, 0, 'exec workload ran');

  const samples = await waitFor('exec records drained', async () => {
    const s = await agent.metrics();
    return valueOf(s, 'kernscope_process_execs_total') === EXECS ? s : undefined;
  });
  t.equal(
    valueOf(samples, 'kernscope_syscalls_total', { syscall: 'getppid' }),
    CALLS,
    `only the getppid() calls of comm ${comm}, not the other process's ${OTHER_CALLS}`,
  );
  t.equal(valueOf(samples, 'kernscope_syscall_errors_total', { syscall: 'close', errno: 'EBADF' }), FAILURES);
  t.same(
    select(samples, 'kernscope_process_execs_total').map((s) => s.labels),
    [{ namespace: 'host', pod: '', container: path.basename(cgroup) }],
    'comm is an optional label, off by default: one series, labelled only by where the execs ran',
  );
  t.equal(valueOf(samples, 'kernscope_events_lost_total', { probe: 'syscalls' }), 0);
  t.equal(valueOf(samples, 'kernscope_events_lost_total', { probe: 'exec' }), 0);
});
