// The syscalls probe against a workload whose syscalls are known exactly: a
// process filtered by pid makes N getppid() calls and K failing close() calls,
// from a cgroup the test creates (the counts carry its attribution). With
// --syscall-latency-every 1 the histogram holds every call; sampled (the
// default), counts stay exact, the histogram holds 1 in N calls per CPU, and
// its quantiles agree with the exact one's within one log2 slot.
import { writeFileSync } from 'node:fs';
import path from 'node:path';

import t from 'tap';

import { AgentProcess } from '../helpers/agent';
import { writeConfig } from '../helpers/configFile';
import { GatedWorkload } from '../helpers/gatedWorkload';
import { createCgroup } from '../helpers/cgroup';
import { syscallWorkload } from '../helpers/syscallWorkload';
import type { Sample } from '../helpers/metrics';
import { select, valueOf } from '../helpers/metrics';

const CALLS = 5000;
const FAILURES = 37;

void t.test('getppid count and latency histogram are exact for the filtered process', async (t) => {
  const workload = await syscallWorkload(t, { getppid: CALLS, badCloses: FAILURES });
  const cgroup = createCgroup(t);
  writeFileSync(path.join(cgroup, 'cgroup.procs'), String(workload.pid));
  const agent = await AgentProcess.start(t, [
    '--probes',
    'syscalls',
    '--pid',
    String(workload.pid),
    '--syscall-latency-every',
    '1',
  ]);
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
  t.same(
    les.slice(0, 2),
    [String(2 ** -20), String(2 ** -18)],
    'bucket bounds are slot edges, powers of two of a second',
  );
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

/** Every slot edge from 2^-24 s (60 ns) to 2^0 s: the histogram at full resolution. */
const EVERY_SLOT = Array.from({ length: 25 }, (_, i) => 2 ** (i - 24));

/** Index of the bucket holding quantile `q` of a syscall's histogram (Prometheus buckets, ascending `le`). */
function quantileBucket(samples: Sample[], syscall: string, q: number): number {
  const buckets = select(samples, 'kernscope_syscall_duration_seconds_bucket', { syscall });
  const total = buckets.find((b) => b.labels.le === '+Inf')!.value;
  return buckets.findIndex((b) => b.value >= q * total);
}

void t.test(
  'sampled latency: exact counts, 1 in N calls timed, quantiles within one slot of the exact ones',
  async (t) => {
    // Reads of /dev/zero of 1 B to 1 MiB in turn: latencies over many log2 slots, the same mix in every cycle.
    const sizes = 21;
    const reads = 2000 * sizes;
    const every = 16;
    const workload = GatedWorkload.start(
      t,
      `f = os.open('/dev/zero', os.O_RDONLY)\nfor i in range(${reads}):\n    os.read(f, 1 << (i % ${sizes}))\n` +
        `for _ in range(${FAILURES}):\n    try:\n        os.close(987654)\n    except OSError:\n        pass`,
    );
    await workload.started();
    const config = writeConfig(
      t,
      `probes:\n  syscalls:\n    buckets:\n      kernscope_syscall_duration_seconds: [${EVERY_SLOT.join(', ')}]\n`,
    );
    const args = ['--config', config, '--probes', 'syscalls', '--pid', String(workload.pid)];
    const exact = await AgentProcess.start(t, [...args, '--syscall-latency-every', '1']);
    const sampled = await AgentProcess.start(t, [...args, '--syscall-latency-every', String(every)]);
    await workload.run(60000);

    const [exactSamples, sampledSamples] = await Promise.all([exact.metrics(), sampled.metrics()]);
    // The workload's read of its gate, in flight when the probes attached, is counted too.
    const counted = valueOf(sampledSamples, 'kernscope_syscalls_total', { syscall: 'read' });
    t.equal(counted, valueOf(exactSamples, 'kernscope_syscalls_total', { syscall: 'read' }), 'both count alike');
    t.ok(counted === reads + 1 || counted === reads + 2, `every read counted (${counted}: ${reads} and the gate's)`);
    t.equal(
      valueOf(sampledSamples, 'kernscope_syscall_errors_total', { syscall: 'close', errno: 'EBADF' }),
      FAILURES,
      'every error counted',
    );
    const timedExact = valueOf(exactSamples, 'kernscope_syscall_duration_seconds_count', { syscall: 'read' }) ?? 0;
    t.ok(timedExact >= reads, `exact: every read started under the probe is timed (${timedExact})`);
    // Each CPU times its first call, then one in `every` (of every syscall of the workload, mmap and munmap included).
    const timed = valueOf(sampledSamples, 'kernscope_syscall_duration_seconds_count', { syscall: 'read' }) ?? 0;
    t.ok(
      timed >= (reads / every) * 0.8 && timed <= (reads / every) * 1.2,
      `sampled: ${timed} reads timed, about ${reads} / ${every}`,
    );
    for (const q of [0.5, 0.99]) {
      const slots = [quantileBucket(exactSamples, 'read', q), quantileBucket(sampledSamples, 'read', q)];
      t.ok(Math.abs(slots[0] - slots[1]) <= 1, `p${q * 100}: exact bucket ${slots[0]}, sampled bucket ${slots[1]}`);
    }
    t.equal(valueOf(sampledSamples, 'kernscope_events_lost_total', { probe: 'syscalls' }), 0, 'nothing lost');
  },
);
