// What the Prometheus end-to-end test expects of each metric family: one
// entry per family, naming the workload that drives it, the series to look
// at (PromQL) and the expected increase over the workload (or value after
// it). A probe added later adds its workload and one entry per family; the
// test fails for a kernscope_ family on /metrics that has no entry here.
import { readFileSync } from 'node:fs';

import { memoryCgroupUnavailable, createMemoryCgroup } from '../helpers/memcg';
import { createCgroup } from '../helpers/cgroup';
import { createLoopDevice } from '../helpers/loopDevice';
import { Netns } from '../helpers/netns';
import { run, spawnClean, waitExit } from '../helpers/process';
import type { HasTeardown } from '../helpers/teardown';
import { sleep, waitFor } from '../helpers/teardown';

/** Numbers a workload established (how many calls it made, what the kernel accounted meanwhile). */
export type Facts = Record<string, number>;

export interface PreparedWorkload {
  /** The probe's settings in the agent's config file (`probes.<probe>`): its filter. */
  settings: Record<string, unknown>;
  /** Top-level settings of the agent's config file (a filter that is global only: netns). */
  agentSettings?: Record<string, string>;
  /** Runs the workload; resolves with its facts once everything it does has happened. */
  run(): Promise<Facts>;
}

export interface Workload {
  probe: string;
  /** Why it cannot run here (a missing kernel feature), or undefined. */
  unavailable?: () => string | undefined;
  /** Before the agent starts: cgroups, devices, namespaces (cleaned up at teardown). */
  prepare(t: HasTeardown): PreparedWorkload | Promise<PreparedWorkload>;
}

/**
 * exactly: the increase must equal it. atLeast: a lower bound, for families
 * the agent cannot isolate from the rest of the machine (say why). about: a
 * tolerance, only where the reference itself is approximate (say why).
 */
export type Expectation =
  { exactly: number } | { atLeast: number; why: string } | { about: number; within: number; why: string };

export interface SeriesCheck {
  /**
   * increase: the PromQL selector's summed value after the workload minus
   * before it. value: the PromQL expression's value after the workload.
   */
  measure: 'increase' | 'value';
  /** PromQL; a function when it needs the workload's facts (a device name). */
  expr: string | ((facts: Facts) => string);
  expect: (facts: Facts, run: { probes: string[]; attachPoints: number }) => Expectation;
}

export interface FamilyEntry {
  family: string;
  /** The workload (key of WORKLOADS) that drives it; undefined for the agent's own metrics. */
  workload?: string;
  checks: SeriesCheck[];
}

async function mustRun(command: string, args: string[]): Promise<void> {
  const result = await run(command, args, { timeoutMs: 30000 });
  if (result.code !== 0) throw new Error(`${command} failed (${result.code ?? result.signal}): ${result.stderr}`);
}

const EXECS = 30;
const GETPPID = 2000;
const EBADF = 13;
const WRITES = 20;
const WRITE_BYTES = 64 * 1024;
const CONNECTS = 10;
const SPINNERS = 2;

export const WORKLOADS: Record<string, Workload> = {
  /** A shell in its own cgroup runs /bin/true EXECS times: EXECS forks and execs, EXECS + 1 exits (the shell too). */
  process: {
    probe: 'process',
    prepare(t) {
      const cgroup = createCgroup(t, 'kernscope-e2e-process');
      return {
        settings: { cgroup },
        async run() {
          const script = `echo $$ > ${cgroup}/cgroup.procs; i=0; while [ $i -lt ${EXECS} ]; do /bin/true; i=$((i+1)); done`;
          await mustRun('/bin/sh', ['-c', script]);
          return { execs: EXECS, forks: EXECS, exits: EXECS + 1 };
        },
      };
    },
  },
  /** python3 in its own cgroup: GETPPID getppid() calls, EBADF failing close() calls. */
  syscalls: {
    probe: 'syscalls',
    prepare(t) {
      const cgroup = createCgroup(t, 'kernscope-e2e-syscalls');
      return {
        settings: { cgroup },
        async run() {
          const source = [
            'import os, sys',
            `open('${cgroup}/cgroup.procs', 'w').write(str(os.getpid()))`,
            `for _ in range(${GETPPID}):\n    os.getppid()`,
            `for _ in range(${EBADF}):\n    try:\n        os.close(987654)\n    except OSError:\n        pass`,
          ].join('\n');
          await mustRun('python3', ['-c', source]);
          return { getppid: GETPPID, ebadf: EBADF };
        },
      };
    },
  },
  /** WRITES direct writes of WRITE_BYTES to a fresh loop device (its name is the label). */
  blockio: {
    probe: 'blockio',
    async prepare(t) {
      const loop = await createLoopDevice(t);
      return {
        settings: {},
        async run() {
          // One write, a scrape interval, then the rest: the loop device's series is new, and a rate
          // (the dashboards' latency panels) needs it seen before some of its writes, not only after.
          const write = (seek: number, count: number) =>
            mustRun('dd', [
              'if=/dev/zero',
              `of=${loop.path}`,
              `bs=${WRITE_BYTES}`,
              `seek=${seek}`,
              `count=${count}`,
              'oflag=direct',
              'conv=notrunc',
              'status=none',
            ]);
          await write(0, 1);
          await sleep(1500);
          await write(1, WRITES - 1);
          return { loop: Number(loop.name.replace(/^loop/, '')), writes: WRITES, bytes: WRITES * WRITE_BYTES };
        },
      };
    },
  },
  /**
   * SPINNERS CPU-bound shells in their own cgroup pinned to CPU 0 for a
   * second, then stopped: the kernel's schedstat (runs, run_delay) of each
   * is the reference.
   */
  runqueue: {
    probe: 'runqueue',
    prepare(t) {
      const cgroup = createCgroup(t, 'kernscope-e2e-runqueue');
      return {
        settings: { cgroup },
        async run() {
          const workers: { child: ReturnType<typeof spawnClean>; joined: number[] }[] = [];
          for (let i = 0; i < SPINNERS; i++) {
            // Builtins only until the exec: the shell is the one task in the cgroup.
            const script =
              `echo $$ > ${cgroup}/cgroup.procs && read a b c < /proc/$$/schedstat && echo "$a $b $c" && ` +
              `exec taskset -c 0 sh -c 'while :; do :; done'`;
            const child = spawnClean('/bin/sh', ['-c', script]);
            t.teardown(() => void child.kill('SIGKILL'));
            let out = '';
            child.stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
            await waitFor('spinner joined its cgroup', () => (out.includes('\n') ? true : undefined));
            workers.push({ child, joined: out.trim().split(/\s+/).map(Number) });
          }
          await sleep(1000);
          for (const w of workers) w.child.kill('SIGSTOP');
          const schedstat = (pid: number): number[] =>
            readFileSync(`/proc/${pid}/schedstat`, 'utf8').trim().split(/\s+/).map(Number);
          await waitFor('spinners stopped', () =>
            workers.every((w) => /\) T /.test(readFileSync(`/proc/${w.child.pid}/stat`, 'utf8'))) ? true : undefined,
          );
          let runs = 0;
          let waitNs = 0;
          for (const w of workers) {
            const [, delay = 0, count = 0] = schedstat(w.child.pid!);
            waitNs += delay - (w.joined[1] ?? 0);
            runs += count - (w.joined[2] ?? 0);
          }
          return { runs, waitSeconds: waitNs * 1e-9 };
        },
      };
    },
  },
  /** python3 in its own cgroup and a 32 MiB memory cgroup touches memory until the kernel OOM-kills it. */
  oom: {
    probe: 'oom',
    unavailable: memoryCgroupUnavailable,
    prepare(t) {
      const cgroup = createCgroup(t, 'kernscope-e2e-oom');
      const memcg = createMemoryCgroup(t, 32 << 20, 'kernscope-e2e-oom');
      return {
        settings: { cgroup },
        async run() {
          const source = [
            'import os, sys',
            'for procs in sys.argv[1:]:',
            '    open(procs, "w").write(str(os.getpid()))',
            'chunks = [b"x" * (1 << 20) for _ in range(1024)]',
            'os._exit(3)',
          ].join('\n');
          const child = spawnClean('python3', ['-c', source, `${cgroup}/cgroup.procs`, memcg.procs]);
          const exit = await waitExit(child, 30000);
          if (exit === 'timeout' || exit.signal !== 'SIGKILL')
            throw new Error(`the hog was not OOM-killed: ${JSON.stringify(exit)}`);
          return { kills: memcg.oomKills() };
        },
      };
    },
  },
  /**
   * In a fresh network namespace, which the agent's netns filter selects:
   * CONNECTS loopback connect/accept pairs, one connect to a closed port
   * (refused: a RST each way), one connection whose SYN-ACK the kernel
   * resends (TCP_DEFER_ACCEPT) and whose server closes with data unread (a
   * RST). The namespace's own SNMP counters are the
   * reference: they count what the kernel did there, whatever the timing.
   */
  tcp: {
    probe: 'tcp',
    async prepare(t) {
      const ns = await Netns.create(t);
      return {
        settings: {},
        agentSettings: { netns: `/run/netns/${ns.name}` },
        async run() {
          const source = `
import socket, time
srv = socket.socket()
srv.bind(('127.0.0.1', 0))
srv.listen(${CONNECTS})
for _ in range(${CONNECTS}):
    c = socket.create_connection(srv.getsockname())
    s, _ = srv.accept()
    c.close()
    s.close()
srv.close()
try:
    socket.create_connection(('127.0.0.1', 9))
except ConnectionRefusedError:
    pass
srv = socket.socket()
srv.setsockopt(socket.IPPROTO_TCP, socket.TCP_DEFER_ACCEPT, 1)
srv.bind(('127.0.0.1', 0))
srv.listen(1)
c = socket.create_connection(srv.getsockname())
time.sleep(1.6)
c.sendall(b'x')
s, _ = srv.accept()
c.close()
s.close()
`;
          await ns.exec('python3', ['-c', source]);
          const snmp = (name: string): Promise<number> => ns.counter('snmp', 'Tcp', name);
          const activeOpens = await snmp('ActiveOpens');
          const attemptFails = await snmp('AttemptFails');
          return {
            outbound: activeOpens - attemptFails,
            inbound: await snmp('PassiveOpens'),
            attemptFails,
            sentResets: await snmp('OutRsts'),
            synRetransmits: await snmp('RetransSegs'),
          };
        },
      };
    },
  },
};

const exactly = (n: number): Expectation => ({ exactly: n });

export const FAMILIES: FamilyEntry[] = [
  {
    family: 'kernscope_process_execs_total',
    workload: 'process',
    checks: [{ measure: 'increase', expr: 'kernscope_process_execs_total', expect: (f) => exactly(f.execs) }],
  },
  {
    family: 'kernscope_process_forks_total',
    workload: 'process',
    checks: [{ measure: 'increase', expr: 'kernscope_process_forks_total', expect: (f) => exactly(f.forks) }],
  },
  {
    family: 'kernscope_process_exits_total',
    workload: 'process',
    checks: [
      { measure: 'increase', expr: 'kernscope_process_exits_total{reason="exit"}', expect: (f) => exactly(f.exits) },
      { measure: 'increase', expr: 'kernscope_process_exits_total{reason="signal"}', expect: () => exactly(0) },
    ],
  },
  {
    family: 'kernscope_syscalls_total',
    workload: 'syscalls',
    checks: [
      { measure: 'increase', expr: 'kernscope_syscalls_total{syscall="getppid"}', expect: (f) => exactly(f.getppid) },
    ],
  },
  {
    family: 'kernscope_syscall_duration_seconds',
    workload: 'syscalls',
    checks: [
      {
        measure: 'increase',
        expr: 'kernscope_syscall_duration_seconds_count{syscall="getppid"}',
        expect: (f) => exactly(f.getppid),
      },
      {
        measure: 'increase',
        expr: 'kernscope_syscall_duration_seconds_bucket{syscall="getppid",le="+Inf"}',
        expect: (f) => exactly(f.getppid),
      },
    ],
  },
  {
    family: 'kernscope_syscall_errors_total',
    workload: 'syscalls',
    checks: [
      {
        measure: 'increase',
        expr: 'kernscope_syscall_errors_total{syscall="close",errno="EBADF"}',
        expect: (f) => exactly(f.ebadf),
      },
    ],
  },
  {
    family: 'kernscope_block_io_duration_seconds',
    workload: 'blockio',
    checks: [
      {
        measure: 'increase',
        expr: (f) => `kernscope_block_io_duration_seconds_count{device="loop${f.loop}",op="write"}`,
        expect: (f) => exactly(f.writes),
      },
    ],
  },
  {
    family: 'kernscope_block_io_bytes_total',
    workload: 'blockio',
    checks: [
      {
        measure: 'increase',
        expr: (f) => `kernscope_block_io_bytes_total{device="loop${f.loop}",op="write"}`,
        expect: (f) => exactly(f.bytes),
      },
    ],
  },
  {
    family: 'kernscope_runqueue_latency_seconds',
    workload: 'runqueue',
    checks: [
      {
        measure: 'increase',
        expr: 'kernscope_runqueue_latency_seconds_count',
        expect: (f) => ({
          about: f.runs,
          within: 3 + 0.01 * f.runs,
          why: "the reference is the kernel's schedstat run count, whose intervals differ from the probe's at the edges (a wait in progress at join or stop)",
        }),
      },
      {
        measure: 'increase',
        expr: 'kernscope_runqueue_latency_seconds_sum',
        expect: (f) => ({
          about: f.waitSeconds,
          within: 0.005 + 0.02 * f.waitSeconds,
          why: "the reference is schedstat run_delay, accounted by the scheduler's clock rather than the probe's timestamps",
        }),
      },
    ],
  },
  {
    family: 'kernscope_oom_kills_total',
    workload: 'oom',
    checks: [{ measure: 'increase', expr: 'kernscope_oom_kills_total', expect: (f) => exactly(f.kills) }],
  },
  {
    family: 'kernscope_oom_victims_total',
    workload: 'oom',
    checks: [{ measure: 'increase', expr: 'kernscope_oom_victims_total', expect: (f) => exactly(f.kills) }],
  },
  {
    family: 'kernscope_tcp_connections_total',
    workload: 'tcp',
    checks: [
      {
        measure: 'increase',
        expr: 'kernscope_tcp_connections_total{direction="outbound"}',
        expect: (f) => exactly(f.outbound),
      },
      {
        measure: 'increase',
        expr: 'kernscope_tcp_connections_total{direction="inbound"}',
        expect: (f) => exactly(f.inbound),
      },
    ],
  },
  {
    family: 'kernscope_tcp_connect_duration_seconds',
    workload: 'tcp',
    checks: [
      {
        measure: 'increase',
        expr: 'kernscope_tcp_connect_duration_seconds_count',
        expect: (f) => exactly(f.outbound),
      },
    ],
  },
  {
    family: 'kernscope_tcp_connect_failures_total',
    workload: 'tcp',
    checks: [
      {
        measure: 'increase',
        expr: 'kernscope_tcp_connect_failures_total',
        expect: (f) => exactly(f.attemptFails),
      },
    ],
  },
  {
    family: 'kernscope_tcp_retransmits_total',
    workload: 'tcp',
    checks: [
      {
        measure: 'increase',
        expr: 'kernscope_tcp_retransmits_total',
        expect: (f) => exactly(f.synRetransmits),
      },
    ],
  },
  {
    family: 'kernscope_tcp_resets_total',
    workload: 'tcp',
    checks: [
      {
        measure: 'increase',
        expr: 'kernscope_tcp_resets_total{direction="sent"}',
        expect: (f) => exactly(f.sentResets),
      },
      {
        measure: 'increase',
        // Every RST of the namespace crosses its loopback to a socket there.
        expr: 'kernscope_tcp_resets_total{direction="received"}',
        expect: (f) => exactly(f.sentResets),
      },
    ],
  },
  // The agent's own metrics.
  {
    family: 'kernscope_events_total',
    workload: 'process',
    checks: [{ measure: 'increase', expr: 'kernscope_events_total{probe="process"}', expect: (f) => exactly(f.execs) }],
  },
  {
    family: 'kernscope_decode_errors_total',
    workload: 'process',
    checks: [{ measure: 'increase', expr: 'kernscope_decode_errors_total', expect: () => exactly(0) }],
  },
  {
    family: 'kernscope_events_lost_total',
    checks: [{ measure: 'increase', expr: 'kernscope_events_lost_total', expect: () => exactly(0) }],
  },
  {
    family: 'kernscope_drain_batches_total',
    workload: 'process',
    checks: [
      {
        measure: 'increase',
        expr: 'kernscope_drain_batches_total{probe="process"}',
        expect: () => ({ atLeast: 1, why: 'records arrive in as many batches as the drain timer and wakeups make' }),
      },
    ],
  },
  {
    family: 'kernscope_probe_up',
    checks: [
      { measure: 'value', expr: 'sum(kernscope_probe_up)', expect: (_, r) => exactly(r.probes.length) },
      { measure: 'value', expr: 'count(kernscope_probe_up)', expect: (_, r) => exactly(r.probes.length) },
    ],
  },
  {
    family: 'kernscope_probe_info',
    checks: [{ measure: 'value', expr: 'count(kernscope_probe_info)', expect: (_, r) => exactly(r.attachPoints) }],
  },
  {
    family: 'kernscope_series_overflow_total',
    checks: [{ measure: 'increase', expr: 'kernscope_series_overflow_total', expect: () => exactly(0) }],
  },
  {
    family: 'kernscope_build_info',
    checks: [{ measure: 'value', expr: 'sum(kernscope_build_info)', expect: () => exactly(1) }],
  },
];
