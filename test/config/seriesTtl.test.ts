// Idle-series expiry against the real kernel: with --series-ttl 1s, series
// whose values stay put between scrapes for a second leave /metrics. A ring
// record counter (exec, comm label on) frees the series and restarts it from
// zero; a map-backed counter (syscalls) comes back with the kernel's running
// total.
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { spawn } from 'node:child_process';

import t from 'tap';

import { AgentProcess } from '../helpers/agent';
import { createCgroup } from '../helpers/cgroup';
import { writeConfig } from '../helpers/configFile';
import type { Sample } from '../helpers/metrics';
import { valueOf } from '../helpers/metrics';
import { childEnv, run } from '../helpers/process';
import type { HasTeardown } from '../helpers/teardown';
import { sleep, waitFor } from '../helpers/teardown';

/** A python3 process that makes N getppid() calls per line "N" on stdin and answers "ok". */
class GetppidLoop {
  private output = '';
  readonly child: ChildProcessWithoutNullStreams;

  constructor(t: HasTeardown) {
    const source =
      'import os, sys\nfor line in sys.stdin:\n    for _ in range(int(line)):\n        os.getppid()\n    print("ok", flush=True)\n';
    this.child = spawn('python3', ['-c', source], { env: childEnv() });
    this.child.stdout.setEncoding('utf8').on('data', (chunk: string) => (this.output += chunk));
    t.teardown(() => void this.child.kill('SIGKILL'));
  }

  async calls(n: number): Promise<void> {
    const before = this.output.length;
    this.child.stdin.write(`${n}\n`);
    await waitFor('getppid batch', () => (this.output.length > before ? true : undefined), { timeoutMs: 10000 });
  }
}

async function execs(cgroup: string, n: number): Promise<void> {
  const script = `echo $$ > ${cgroup}/cgroup.procs; i=0; while [ $i -lt ${n} ]; do /bin/true; i=$((i+1)); done`;
  const result = await run('/bin/sh', ['-c', script], { timeoutMs: 30000 });
  if (result.code !== 0) throw new Error(`exec workload failed: ${result.stderr}`);
}

void t.test('series idle for the TTL leave the export; record series restart, map series resume', async (t) => {
  const cgroup = createCgroup(t);
  const loop = new GetppidLoop(t);
  const config = writeConfig(
    t,
    `series_ttl: 1s\nprobes:\n  exec:\n    labels: [comm]\n    cgroup: ${cgroup}\n  syscalls:\n    pid: ${loop.child.pid}\n`,
  );
  const agent = await AgentProcess.start(t, ['--config', config]);

  await loop.calls(1000);
  await execs(cgroup, 5);
  const first: Sample[] = await waitFor('execs drained', async () => {
    const s = await agent.metrics();
    return valueOf(s, 'kernscope_process_execs_total', { comm: 'true' }) === 5 ? s : undefined;
  });
  t.equal(valueOf(first, 'kernscope_syscalls_total', { syscall: 'getppid' }), 1000, 'getppid counted');

  await sleep(1300);
  const idle = await agent.metrics();
  t.equal(valueOf(idle, 'kernscope_process_execs_total', { comm: 'true' }), undefined, 'idle exec series dropped');
  t.equal(valueOf(idle, 'kernscope_syscalls_total', { syscall: 'getppid' }), undefined, 'idle syscall series dropped');
  t.equal(
    valueOf(idle, 'kernscope_syscall_duration_seconds_count', { syscall: 'getppid' }),
    undefined,
    'idle histogram series dropped',
  );
  t.ok(valueOf(idle, 'kernscope_probe_up', { probe: 'exec' }) === 1, 'self metrics are not subject to the TTL');

  await loop.calls(500);
  await execs(cgroup, 3);
  const back = await waitFor('execs drained again', async () => {
    const s = await agent.metrics();
    return (valueOf(s, 'kernscope_process_execs_total', { comm: 'true' }) ?? 0) >= 3 ? s : undefined; // all three drained
  });
  t.equal(valueOf(back, 'kernscope_process_execs_total', { comm: 'true' }), 3, 'the exec series restarts from zero');
  t.equal(
    valueOf(back, 'kernscope_syscalls_total', { syscall: 'getppid' }),
    1500,
    'the map series comes back with the running total',
  );
});
