// What tracing syscalls costs the traced workload: ns per getppid() call
// (bench/syscall_loop, back to back) with nothing attached, with kernscope's
// syscalls probe (the agent, in-kernel aggregation; with and without
// attribution, which keys counts by the caller's cgroup), with a ring record per
// syscall drained by kernscope (the alternative the syscalls probe rejected),
// with kernscope's syscall_counts probe (counts only, one program), with
// libbpf-tools syscount (counts; and -L, counts + latency, the same work
// as kernscope) and with bpftrace counting syscalls. All tracers are
// system-wide, as their defaults are. Scenarios alternate, median of trials.
//
// usage: node dist/bench/overhead.js [--seconds S] [--trials N] [--tracers REGEX] [--json]
import { execFileSync, spawn } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';

import { ProbeAggregator } from '../src/aggregate/ProbeAggregator';
import { ResolvedRecord } from '../src/decode/ResolvedRecord';
import { RingDrain } from '../src/drain/RingDrain';
import { PACKAGE_ROOT, addon } from '../src/native/addon';
import { execProbe } from '../src/probes/exec';
import type { Tracer } from './tracers';
import { NOTHING, agent, command, measureUnderEach, median, noopFloor } from './tracers';

const LOOP = path.join(PACKAGE_ROOT, 'dist', 'bench', 'syscall_loop');
const LOADGEN = path.join(PACKAGE_ROOT, 'dist', 'bpf', 'loadgen.bpf.o');

const tracers: Tracer[] = [
  NOTHING,
  noopFloor('floor: no-op on sys_enter + sys_exit', ['noop_sys_enter', 'noop_sys_exit']),
  noopFloor('floor: no-op on sys_exit', ['noop_sys_exit']),
  agent('kernscope syscalls probe (agent)', 'syscalls'),
  agent('kernscope syscalls, attribution off', 'syscalls', '--attribution', 'false'),
  agent('kernscope syscalls, every call timed', 'syscalls', '--syscall-latency-every', '1'),
  // The finer native histogram schemas (bpf/histogram.h): 1 to 7 more compares per timed call.
  ...[1, 2, 3].map((schema) =>
    agent(
      `kernscope syscalls, every call timed, schema ${schema}`,
      'syscalls',
      ...['--syscall-latency-every', '1', '--histogram-schema', String(schema)],
    ),
  ),
  agent('kernscope syscall_counts probe (agent)', 'syscall_counts'),
  agent('kernscope syscall_counts, attribution off', 'syscall_counts', '--attribution', 'false'),
  {
    name: 'kernscope ring record per syscall',
    start() {
      const object = new addon.BpfObject(LOADGEN, 'ring_per_syscall');
      object.setAutoload('loadgen', false);
      object.setAutoload('loadgen_sys_enter', true);
      object.setMaxEntries('events', 4 * 1024 * 1024);
      object.setConstant('wakeup_bytes', new Uint8Array(new BigUint64Array([1024n * 1024n]).buffer));
      object.load();
      object.attach('loadgen_sys_enter', 'tp_btf');
      const record = ResolvedRecord.resolve(object, 'loadgen', execProbe.record);
      const limits = { maxSeries: 2000, ttlMs: 0 };
      const drain = new RingDrain(object, new ProbeAggregator(execProbe, record, { limits }), {
        intervalMs: 20,
      });
      drain.start();
      return Promise.resolve({
        stop() {
          drain.stop();
          object.close();
          return Promise.resolve();
        },
        pid: process.pid,
      });
    },
  },
  command('libbpf-tools syscount', '/usr/sbin/syscount', [], /Tracing syscalls/),
  command('libbpf-tools syscount -L', '/usr/sbin/syscount', ['-L'], /Tracing syscalls/),
  command(
    'bpftrace count by syscall',
    'bpftrace',
    ['-e', 'tracepoint:raw_syscalls:sys_enter { @[args->id] = count(); }'],
    /Attaching/,
  ),
];

/** ns per getppid() call of one back-to-back run of `seconds`. */
async function loop(seconds: number): Promise<number> {
  // Pinned to the last CPU: one placement for every scenario, less run-to-run noise.
  const child = spawn('taskset', ['-c', String(os.cpus().length - 1), LOOP, 'max', String(seconds)]);
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => {
    output += chunk.toString();
    if (/^ready /m.test(output) && !child.stdin.writableEnded) child.stdin.end('go\n');
  });
  await new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => {
        child.kill('SIGKILL');
        reject(new Error(`syscall_loop did not finish in ${seconds + 30} s: ${output}`));
      },
      (seconds + 30) * 1000,
    );
    child.once('exit', () => {
      clearTimeout(timer);
      resolve(undefined);
    });
  });
  const result = JSON.parse(output.split('\n').find((l) => l.startsWith('{')) ?? 'null') as {
    calls: number;
    seconds: number;
  } | null;
  if (!result) throw new Error(`syscall_loop printed no result: ${output}`);
  return (result.seconds * 1e9) / result.calls;
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const option = (name: string, fallback: number): number => {
    const i = argv.indexOf(name);
    return i >= 0 ? Number(argv[i + 1]) : fallback;
  };
  const seconds = option('--seconds', 2);
  const trials = option('--trials', 3);
  const only = new RegExp(argv[argv.indexOf('--tracers') + 1] ?? '.');
  const chosen = argv.includes('--tracers') ? tracers.filter((t) => t === NOTHING || only.test(t.name)) : tracers;
  const results = await measureUnderEach(chosen, trials, () => loop(seconds));
  const base = median(results.get(NOTHING.name)!);
  const rows = chosen.map((t) => {
    const ns = median(results.get(t.name)!);
    return { tracer: t.name, nsPerCall: ns, addedNs: ns - base };
  });
  if (argv.includes('--json')) {
    console.log(JSON.stringify({ seconds, trials, rows }, null, 2));
    return;
  }
  const cpu = /model name\s*:\s*(.*)/.exec(execFileSync('cat', ['/proc/cpuinfo']).toString())?.[1] ?? '?';
  console.log(`cpu: ${cpu} (${os.cpus().length} cores)  kernel: ${os.release()}  node: ${process.version}`);
  console.log(`workload: getppid() back to back for ${seconds} s, median of ${trials} trials; tracers system-wide\n`);
  console.log(`${'tracer'.padEnd(42)} ${'ns/call'.padStart(8)} ${'added ns'.padStart(9)}`);
  for (const row of rows) {
    console.log(
      `${row.tracer.padEnd(42)} ${row.nsPerCall.toFixed(1).padStart(8)} ${row.addedNs.toFixed(1).padStart(9)}`,
    );
  }
  if (chosen !== tracers) return; // the ratios need every column
  const added = (name: string): number => rows.find((r) => r.tracer === name)!.addedNs;
  const ratio = (ours: string, theirs: string): string => (added(ours) / added(theirs)).toFixed(2);
  const syscalls = 'kernscope syscalls probe (agent)';
  const counts = 'kernscope syscall_counts probe (agent)';
  console.log('\nkernscope added / syscount added (gate <= 1.5, aim <= 1.0):');
  console.log(
    `  syscall_counts / syscount    (same work: counts):           ${ratio(counts, 'libbpf-tools syscount')}`,
  );
  console.log(
    `  syscalls / syscount -L       (same work: counts + latency): ${ratio(syscalls, 'libbpf-tools syscount -L')}`,
  );
  console.log(
    `  syscalls / syscount          (latency on, syscount counts): ${ratio(syscalls, 'libbpf-tools syscount')}`,
  );
}

main().catch((error: unknown) => {
  console.error(`overhead: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
