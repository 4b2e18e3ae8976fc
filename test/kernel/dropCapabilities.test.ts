// Capabilities dropped after attach, asked of the kernel: a real agent with
// the exec probe (ring records) and the syscalls probe (map reads) attached;
// after /readyz every thread in /proc/PID/task holds exactly the kept set,
// with no_new_privs. Then the agent still does everything it needs: exact
// counts of execs in a pod cgroup made after the drop (so attribution walks
// cgroupfs again) and of getppid() calls, program run stats with
// --bpf-stats, and on SIGTERM it exits 0 leaving nothing in the kernel.
// Also in a node child with libuv's pool and worker threads running: each of
// them drops, and a thread started afterwards inherits the reduced sets. And
// a thread that cannot answer (held in a ptrace stop) fails the agent with
// one line and exit 1, leaving nothing in the kernel.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import t from 'tap';

import type { Capability, ThreadCapabilities } from '../../src/kernel/capabilities';
import { capabilityMask, threadCapabilities } from '../../src/kernel/capabilities';
import { AgentProcess } from '../helpers/agent';
import type { BpfIds } from '../helpers/bpftool';
import { bpfIdsOf, waitGone } from '../helpers/bpftool';
import { createCgroup, execsIn, nestedCgroup, podSlice } from '../helpers/cgroup';
import { writeConfig } from '../helpers/configFile';
import { CLI, ROOT } from '../helpers/paths';
import { lines, run, spawnClean, waitExit } from '../helpers/process';
import type { Sample } from '../helpers/metrics';
import { sumOf, valueOf } from '../helpers/metrics';
import { syscallWorkload } from '../helpers/syscallWorkload';
import { sleep, waitFor } from '../helpers/teardown';

const EXECS = 40;
const CALLS = 3000;
const POD = { uid: '3c2b1a09-8f7e-4d6c-9b5a-4e3d2c1b0a99', id: 'c3'.repeat(32) };
/** Signals SIGRTMIN (34) to 64, which a thread blocking "everything" blocks. */
const REAL_TIME_SIGNALS = ((1n << 64n) - 1n) & ~((1n << 33n) - 1n);

interface Expected {
  kept: Capability[];
  /** The bounding set afterwards: the kept set, or as it was when the agent may not shrink it. */
  bounding: Capability[];
}

function describe(thread: ThreadCapabilities): string {
  const hex = (bits: bigint): string => bits.toString(16);
  return (
    `${thread.tid} ${thread.name}: eff ${hex(thread.effective)} prm ${hex(thread.permitted)} ` +
    `inh ${hex(thread.inheritable)} amb ${hex(thread.ambient)} bnd ${hex(thread.bounding)} nnp ${thread.noNewPrivs}`
  );
}

function checkThreads(t: tap.Test, pid: number, expected: Expected, when: string): void {
  const kept = capabilityMask(expected.kept);
  const bounding = capabilityMask(expected.bounding);
  const threads = threadCapabilities(pid);
  const right = (th: ThreadCapabilities): boolean =>
    th.effective === kept &&
    th.permitted === kept &&
    th.bounding === bounding &&
    th.inheritable === 0n &&
    th.ambient === 0n &&
    th.noNewPrivs;
  t.ok(threads.length > 1, `${when}: ${threads.length} threads`);
  t.same(
    threads.filter((th) => !right(th)).map(describe),
    [],
    `${when}: every thread holds ${expected.kept.join(', ') || 'nothing'}`,
  );
  t.ok(
    threads.some((th) => (th.blocked & REAL_TIME_SIGNALS) === REAL_TIME_SIGNALS),
    `${when}: among them a thread that blocks every signal it can (Node's SIGUSR1 watchdog)`,
  );
}

/** Scrapes until `done` holds or 10 s pass; the last samples either way. */
async function settled(agent: AgentProcess, done: (samples: Sample[]) => boolean): Promise<Sample[]> {
  const deadline = Date.now() + 10000;
  for (;;) {
    const samples = await agent.metrics();
    if (done(samples) || Date.now() > deadline) return samples;
    await sleep(100);
  }
}

/**
 * An agent running exec (under a fresh cgroup) and syscalls (for one gated
 * workload) with `args`, checked as described at the top of this file.
 */
async function dropAndServe(t: tap.Test, args: string[], expected: Expected, through: string[] = []) {
  const root = createCgroup(t, 'kernscope-caps');
  const workload = await syscallWorkload(t, { getppid: CALLS, badCloses: 0 });
  const config = writeConfig(t, `probes:\n  exec:\n    cgroup: ${root}\n  syscalls:\n    pid: ${workload.pid}\n`);
  const agent = await AgentProcess.start(t, ['--config', config, ...args], { through });
  const keptText = expected.kept.map((c) => `CAP_${c}`).join(',') || 'none';
  t.match(agent.log, new RegExp(`capabilities dropped.*${keptText}`), 'one info line names what remains');
  checkThreads(t, agent.pid, expected, 'after /readyz');

  const pod = nestedCgroup(t, root, podSlice(POD.uid), `cri-containerd-${POD.id}.scope`);
  await execsIn(pod, EXECS);
  await workload.run();
  const labels = { namespace: '', pod: POD.uid, container: POD.id.slice(0, 12) };
  const samples = await settled(
    agent,
    (s) =>
      valueOf(s, 'kernscope_process_execs_total', labels) === EXECS &&
      valueOf(s, 'kernscope_syscalls_total', { syscall: 'getppid' }) === CALLS,
  );
  t.equal(valueOf(samples, 'kernscope_process_execs_total', labels), EXECS, 'execs from the ring, attributed');
  t.equal(sumOf(samples, 'kernscope_process_execs_total'), EXECS, 'nothing else counted');
  t.equal(valueOf(samples, 'kernscope_syscalls_total', { syscall: 'getppid' }), CALLS, 'getppid calls from the map');
  t.equal(sumOf(samples, 'kernscope_events_lost_total'), 0, 'nothing lost');
  checkThreads(t, agent.pid, expected, 'after the work');

  const held = bpfIdsOf(agent.pid);
  t.ok(held.progIds.length > 0 && held.linkIds.length > 0, 'the agent held programs and links');
  t.same(await agent.stop('SIGTERM', 5000), { code: 0, signal: null }, 'SIGTERM exits 0');
  t.same(
    await waitGone(held.progIds, held.linkIds, 2500, held.mapIds),
    { progs: [], links: [], maps: [] },
    'nothing of its own left in the kernel',
  );
  return samples;
}

void t.test('default: every thread keeps nothing, and the agent still serves exact counts', async (t) => {
  await dropAndServe(t, [], { kept: [], bounding: [] });
});

void t.test(
  '--capabilities-keep bpf,perfmon with --bpf-stats: run stats read after CAP_SYS_ADMIN is gone',
  async (t) => {
    const samples = await dropAndServe(t, ['--capabilities-keep', 'bpf,CAP_PERFMON', '--bpf-stats'], {
      kept: ['PERFMON', 'BPF'],
      bounding: ['PERFMON', 'BPF'],
    });
    t.ok(
      sumOf(samples, 'kernscope_bpf_program_runs_total') >= CALLS,
      'program runs counted (BPF_OBJ_GET_INFO_BY_FD without CAP_SYS_ADMIN)',
    );
  },
);

void t.test('with only CAP_BPF + CAP_PERFMON (the base DaemonSet): no CAP_SETPCAP, bounding set kept', async (t) => {
  const set = '-all,+bpf,+perfmon';
  await dropAndServe(t, [], { kept: [], bounding: ['PERFMON', 'BPF'] }, [
    'setpriv',
    `--inh-caps=${set}`,
    `--ambient-caps=${set}`,
    `--bounding-set=${set}`,
  ]);
});

void t.test("libuv's pool and worker threads drop too; a thread started later inherits the reduced sets", async (t) => {
  const dist = path.join(ROOT, 'dist', 'src', 'kernel');
  const script = `
    const { once } = require('node:events');
    const { readFile } = require('node:fs/promises');
    const { Worker } = require('node:worker_threads');
    const { dropCapabilities } = require(${JSON.stringify(path.join(dist, 'dropCapabilities.js'))});
    const { threadCapabilities } = require(${JSON.stringify(path.join(dist, 'capabilities.js'))});
    const idle = () => new Worker('setInterval(() => {}, 1000)', { eval: true });
    (async () => {
      await readFile('/proc/self/status'); // starts libuv's pool
      const before = idle();
      await once(before, 'online');
      const atDrop = threadCapabilities().length;
      const { threads } = dropCapabilities(['none']);
      const after = idle();
      await once(after, 'online');
      await readFile('/proc/self/status');
      const show = (th) => ({ ...th, effective: String(th.effective), permitted: String(th.permitted),
        inheritable: String(th.inheritable), ambient: String(th.ambient), bounding: String(th.bounding), blocked: undefined });
      process.stdout.write(JSON.stringify({ atDrop, threads, now: threadCapabilities().map(show) }));
      process.exit(0);
    })();`;
  const result = await run(process.execPath, ['-e', script], { timeoutMs: 30000 });
  t.equal(result.code, 0, result.stderr);
  const { atDrop, threads, now } = JSON.parse(result.stdout) as {
    atDrop: number;
    threads: number;
    now: { tid: number; name: string; effective: string; permitted: string; bounding: string; noNewPrivs: boolean }[];
  };
  t.ok(atDrop >= 12, `main, V8's workers, the watchdog, 4 pool threads and a worker's threads: ${atDrop}`);
  t.equal(threads, atDrop, 'every thread answered');
  t.ok(now.length > atDrop, `threads started after the drop: ${now.length - atDrop}`);
  const held = now.filter(
    (th) => th.effective !== '0' || th.permitted !== '0' || th.bounding !== '0' || !th.noNewPrivs,
  );
  t.same(held, [], 'no thread holds a capability; every one has no_new_privs');
});

/** Python that holds thread `tid` in a ptrace stop (PTRACE_SEIZE + PTRACE_INTERRUPT: that thread only) until killed. */
const HOLD_THREAD = `
import ctypes, sys, time
libc = ctypes.CDLL(None, use_errno=True)
tid = int(sys.argv[1])
for request in (0x4206, 0x4207):  # PTRACE_SEIZE, PTRACE_INTERRUPT
    if libc.ptrace(request, tid, None, None) != 0:
        sys.exit("ptrace: errno %d" % ctypes.get_errno())
print("held", flush=True)
time.sleep(120)`;

void t.test('a thread that does not answer: one line, exit 1, nothing left in the kernel', async (t) => {
  // The agent reads its config from a FIFO: it waits there until the thread is held.
  const dir = mkdtempSync(path.join(tmpdir(), 'kernscope-caps-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const config = path.join(dir, 'kernscope.yaml');
  execFileSync('mkfifo', [config]);
  const agent = spawnClean(process.execPath, [CLI, 'run', '--listen', '127.0.0.1:0', '--config', config]);
  let stderr = '';
  agent.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = waitExit(agent, 60000);
  t.teardown(() => void agent.kill('SIGKILL'));
  const pid = agent.pid!;
  // Node's SIGUSR1 watchdog: started before any JS runs, and never runs JS itself.
  const watchdog = await waitFor('the watchdog thread', () =>
    threadCapabilities(pid).find((th) => (th.blocked & REAL_TIME_SIGNALS) === REAL_TIME_SIGNALS),
  );
  const holder = spawnClean('python3', ['-c', HOLD_THREAD, String(watchdog.tid)]);
  t.teardown(() => void holder.kill('SIGKILL'));
  let held = '';
  holder.stdout.setEncoding('utf8').on('data', (chunk: string) => (held += chunk));
  await waitFor('the thread held', () => (held.includes('held') ? true : undefined));
  writeFileSync(config, 'probes: [exec, syscalls]\n');

  // The agent waits for the held thread with everything attached: what it holds then must go.
  let ids: BpfIds = { progIds: [], linkIds: [], mapIds: [] };
  while (!stderr.includes('kernscope: ') && agent.exitCode === null) {
    const now = bpfIdsOf(pid);
    if (now.linkIds.length > 0) ids = now;
    await sleep(50);
  }
  // A traced thread's exit waits for its tracer: let go of it.
  holder.kill('SIGKILL');
  t.same(await exited, { code: 1, signal: null }, 'exit 1');
  const errors = lines(stderr).filter((line) => line.startsWith('kernscope: '));
  t.equal(errors.length, 1, `one error line: ${stderr}`);
  t.match(
    errors[0],
    new RegExp(`capabilities not dropped: threads ${watchdog.tid} did not answer.*--capabilities-keep all`),
  );
  t.ok(ids.linkIds.length > 0, 'links were attached while it waited');
  t.same(await waitGone(ids.progIds, ids.linkIds, 2500, ids.mapIds), { progs: [], links: [], maps: [] }, 'all gone');
});
