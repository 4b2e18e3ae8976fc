// The process probe against a workload whose process lifecycle is known
// exactly: inside a cgroup of its own (the filter), a python3 process forks
// children that exit, exec /bin/true, or get killed by SIGKILL and SIGTERM,
// starts threads (not counted), and has a child whose second thread execs
// (the leader it replaces is no process exit). Checked through a real agent
// (tp_btf) and in-process for the raw_tp and classic tracepoint variants, and
// for the exec probe alone.
import path from 'node:path';

import t from 'tap';

import type { AgentOptions } from '../../src/config/AgentOptions';
import { DEFAULT_OPTIONS } from '../../src/config/AgentOptions';
import { validateOptions } from '../../src/config/validateOptions';
import { mapFamilies } from '../../src/aggregate/MapMetrics';
import { RecordLayout } from '../../src/decode/RecordLayout';
import { RingDrain } from '../../src/drain/RingDrain';
import { resolveCgroup } from '../../src/kernel/cgroup';
import { ensureTracefs } from '../../src/kernel/tracefs';
import type { LoadedProbe } from '../../src/load/ProbeLoader';
import { ProbeLoader } from '../../src/load/ProbeLoader';
import type { AttachKind } from '../../src/native/addon';
import { addon } from '../../src/native/addon';
import { BUILTIN_PROBES } from '../../src/probes';
import { execProbe } from '../../src/probes/exec';
import { processProbe } from '../../src/probes/process';
import type { ProbeDefinition } from '../../src/probes/ProbeDefinition';
import { AgentProcess } from '../helpers/agent';
import type { MapShow } from '../helpers/bpftool';
import { mapById } from '../helpers/bpftool';
import { featuresFrom } from '../helpers/features';
import { sumU64, u32 } from '../helpers/bytes';
import { createCgroup } from '../helpers/cgroup';
import type { Sample } from '../helpers/metrics';
import { select, sumOf, valueOf } from '../helpers/metrics';
import { run } from '../helpers/process';
import { EXEC_OBJECT } from '../helpers/paths';
import { RecordCollector } from '../helpers/recordCollector';
import { spyOnObjects } from '../helpers/spy';
import type { HasTeardown } from '../helpers/teardown';
import { sleep } from '../helpers/teardown';

const EXITS = 20; // children that exit with codes 0, 1, 2
const EXECS = 15; // children that exec /bin/true
const KILLS = 7; // children killed by SIGKILL
const TERMS = 5; // children killed by SIGTERM (default action)
const THREADS = 10; // threads started and joined: neither forks nor exits

/**
 * What the workload does inside the cgroup. It joins the cgroup itself, so
 * its own fork and exec (by node, then env) happen outside; its own exit
 * happens inside. The child whose second thread execs counts as one fork, one
 * exec and one exit.
 */
const EXPECTED = {
  forks: EXITS + EXECS + KILLS + TERMS + 1,
  execs: EXECS + 1,
  exit: EXITS + EXECS + 1 + 1, // + the thread-exec child + the workload itself
  signal: KILLS + TERMS,
};

const WORKLOAD = `
import os, signal, sys, threading
with open(sys.argv[1], 'w') as f:
    f.write(str(os.getpid()))
exits, execs, kills, terms, threads = map(int, sys.argv[2:7])

def reap(pid):
    return os.waitpid(pid, 0)[1]

for i in range(exits):
    pid = os.fork()
    if pid == 0:
        os._exit(i % 3)
    assert os.WIFEXITED(reap(pid))
for i in range(execs):
    pid = os.fork()
    if pid == 0:
        try:
            os.execv('/bin/true', ['true'])
        finally:
            os._exit(127)
    assert os.waitstatus_to_exitcode(reap(pid)) == 0
for sig, n in ((signal.SIGKILL, kills), (signal.SIGTERM, terms)):
    for i in range(n):
        pid = os.fork()
        if pid == 0:
            while True:
                signal.pause()
        os.kill(pid, sig)
        assert os.waitstatus_to_exitcode(reap(pid)) == -sig
for i in range(threads):
    th = threading.Thread(target=lambda: None)
    th.start()
    th.join()
pid = os.fork()
if pid == 0:
    th = threading.Thread(target=lambda: os.execv('/bin/true', ['true']))
    th.start()
    th.join()
    os._exit(99)
assert os.waitstatus_to_exitcode(reap(pid)) == 0
print('ok')
`;

/** Runs the workload in `cgroup`; what it printed and how it ended, for t.same(..., WORKLOAD_OK). */
async function runWorkload(cgroup: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const args = [`${cgroup}/cgroup.procs`, EXITS, EXECS, KILLS, TERMS, THREADS].map(String);
  const { code, stdout, stderr } = await run('python3', ['-c', WORKLOAD, ...args], { timeoutMs: 30000 });
  return { code, stdout, stderr };
}

const WORKLOAD_OK = { code: 0, stdout: 'ok\n', stderr: '' };

interface Counts {
  forks: number | undefined;
  execs: number | undefined;
  exit: number | undefined;
  signal: number | undefined;
}

/** Totals over every cgroup's series. */
function countsOf(samples: Sample[]): Counts {
  return {
    forks: sumOf(samples, 'kernscope_process_forks_total'),
    execs: sumOf(samples, 'kernscope_process_execs_total'),
    exit: sumOf(samples, 'kernscope_process_exits_total', { reason: 'exit' }),
    signal: sumOf(samples, 'kernscope_process_exits_total', { reason: 'signal' }),
  };
}

void t.test('agent: exact forks, execs and exits by reason (tp_btf), exec folded into process', async (t) => {
  const cgroup = createCgroup(t);
  // Both names: exec is part of process, so only process runs and nothing counts twice.
  const agent = await AgentProcess.start(t, ['--probes', 'exec,process', '--cgroup', cgroup]);

  const before = await agent.metrics();
  t.same(countsOf(before), { forks: 0, execs: 0, exit: 0, signal: 0 }, 'nothing counted before the workload');

  t.same(await runWorkload(cgroup), WORKLOAD_OK, 'workload ran');
  // Forks and exits are read from the kernel at scrape; execs drain from the ring within ~20 ms.
  const deadline = Date.now() + 10000;
  let samples = await agent.metrics();
  while (countsOf(samples).execs! < EXPECTED.execs && Date.now() < deadline) {
    await sleep(50);
    samples = await agent.metrics();
  }
  await sleep(300); // nothing more may arrive
  samples = await agent.metrics();
  t.same(countsOf(samples), EXPECTED, 'exact counts');
  const cgroupLabels = { namespace: 'host', pod: '', container: path.basename(cgroup) };
  t.same(
    select(samples, 'kernscope_process_exits_total')
      .map((s) => s.labels)
      .sort((a, b) => a.reason.localeCompare(b.reason)),
    [
      { reason: 'exit', ...cgroupLabels },
      { reason: 'signal', ...cgroupLabels },
    ],
    "exits labelled by the workload's cgroup",
  );
  t.same(
    select(samples, 'kernscope_process_forks_total').map((s) => s.labels),
    [cgroupLabels],
    "forks labelled by the workload's cgroup",
  );
  t.equal(valueOf(samples, 'kernscope_events_total', { probe: 'process' }), EXPECTED.execs, 'one record per exec');
  t.equal(valueOf(samples, 'kernscope_events_lost_total', { probe: 'process' }), 0, 'nothing lost');
  t.same(select(samples, 'kernscope_probe_up', { probe: 'exec' }), [], 'exec did not run on its own');
  t.same(
    select(samples, 'kernscope_probe_info', { probe: 'process' })
      .map((s) => `${s.labels.program} ${s.labels.attach}`)
      .sort(),
    ['exec_tp_btf tp_btf', 'exit_tp_btf tp_btf', 'fork_tp_btf tp_btf'],
    'every attach point as tp_btf',
  );
  const exit = await agent.stop('SIGTERM', 5000);
  if (!t.same(exit, { code: 0, signal: null }, 'SIGTERM exits 0')) t.comment(agent.log);
});

/** Loads `definition` in this process, filtered to `cgroup`, with its exec records collected. */
function loadInProcess(
  t: HasTeardown,
  definition: ProbeDefinition,
  kind: AttachKind,
  cgroup: string,
): { loaded: LoadedProbe; drain: RingDrain; records: RecordCollector } {
  const loaded = new ProbeLoader(featuresFrom(kind)).load(definition, {
    ringBytes: 1 << 16,
    wakeupBytes: 1 << 16,
    cgroup: resolveCgroup(cgroup),
  });
  const records = new RecordCollector();
  const drain = new RingDrain(loaded.object, records.sink, { intervalMs: 1000 });
  t.teardown(() => {
    drain.stop();
    loaded.object.close();
  });
  return { loaded, drain, records };
}

/** Forks and exits by reason as the agent would export them (attribution off: one series each). */
function mapCounts(loaded: LoadedProbe): Omit<Counts, 'execs'> {
  const families = mapFamilies(loaded.object, processProbe.mapMetrics, { limits: { maxSeries: 100, ttlMs: 0 } });
  const total = (name: string, labels: Record<string, string> = {}): number =>
    (families.find((f) => f.name === name)!.collect() as { labels: Record<string, string>; value: number }[])
      .filter((sample) => Object.entries(labels).every(([k, v]) => sample.labels[k] === v))
      .reduce((sum, sample) => sum + sample.value, 0);
  return {
    forks: total('kernscope_process_forks_total'),
    exit: total('kernscope_process_exits_total', { reason: 'exit' }),
    signal: total('kernscope_process_exits_total', { reason: 'signal' }),
  };
}

for (const kind of ['raw_tp', 'tracepoint'] as const) {
  const skip = (kind === 'tracepoint' && ensureTracefs()) || false;
  void t.test(`in-process: exact counts with the ${kind} variants`, { skip }, async (t) => {
    const cgroup = createCgroup(t);
    const { loaded, drain, records } = loadInProcess(t, processProbe, kind, cgroup);
    t.same(
      loaded.chosen.map((c) => c.variant.kind),
      [kind, kind, kind],
      `every attach point as ${kind}`,
    );
    t.same(await runWorkload(cgroup), WORKLOAD_OK, 'workload ran');
    drain.drain();
    const layout = RecordLayout.fromObject(loaded.object, 'exec_record');
    const execs = records.decoded(layout);
    t.same({ ...mapCounts(loaded), execs: execs.length }, EXPECTED, 'exact counts');
    t.same([...new Set(execs.map((r) => r.comm))], ['true'], 'every exec record is of /bin/true');
    t.equal(sumU64(loaded.object.lookup('drops', u32(0))!), 0, 'nothing lost');
  });
}

void t.test('in-process: the exec probe loads only the exec program and counts only execs', async (t) => {
  const cgroup = createCgroup(t);
  const { loaded, drain, records } = loadInProcess(t, execProbe, 'tp_btf', cgroup);
  t.same(
    loaded.object.programStats().map((p) => p.name),
    ['exec_tp_btf'],
    'fork and exit programs not loaded',
  );
  t.same(await runWorkload(cgroup), WORKLOAD_OK, 'workload ran');
  drain.drain();
  t.equal(records.records.length, EXPECTED.execs, 'exact execs');
  t.same(mapCounts(loaded), { forks: 0, exit: 0, signal: 0 }, 'no forks or exits counted');
});

void t.test('in-process: the maps user space only reads are frozen, and still count exactly', async (t) => {
  const spy = spyOnObjects(t);
  const cgroup = createCgroup(t);
  const { loaded, drain, records } = loadInProcess(t, processProbe, 'tp_btf', cgroup);
  const shown = spy.mapIds.map(mapById);
  t.same(
    Object.fromEntries(shown.map((m) => [m.name, m.frozen])),
    // The ring's consumer page is mapped writable: it cannot be frozen. libbpf froze .rodata itself.
    { events: 0, drops: 1, process_forks: 1, process_exits: 1, 'process.rodata': 1, 'process.bss': 1 },
    'bpftool: every map but the ring buffer is frozen',
  );
  const updateForks = async (maps: MapShow[]): Promise<{ code: number | null; stderr: string }> => {
    const id = String(maps.find((m) => m.name === 'process_forks')!.id);
    const key = Array<string>(8).fill('0');
    const { code, stderr } = await run('bpftool', ['map', 'update', 'id', id, 'key', ...key, 'value', ...key], {
      timeoutMs: 10000,
    });
    return { code, stderr };
  };
  t.match(await updateForks(shown), { code: 255, stderr: /Operation not permitted/ }, 'bpftool map update: EPERM');
  // The same update on an unfrozen copy of the object succeeds: the refusal above is the freeze.
  const copy = new addon.BpfObject(EXEC_OBJECT, 'unfrozen');
  t.teardown(() => copy.close());
  copy.load();
  t.same(await updateForks(spy.mapIds.slice(shown.length).map(mapById)), { code: 0, stderr: '' }, 'unfrozen: updated');

  t.same(await runWorkload(cgroup), WORKLOAD_OK, 'workload ran');
  drain.drain();
  t.same({ ...mapCounts(loaded), execs: records.records.length }, EXPECTED, 'exact counts');
});

void t.test('options: exec is dropped when process is selected too', (t) => {
  const options = (probes: string[]): AgentOptions => validateOptions({ ...DEFAULT_OPTIONS, probes });
  t.same(options(['exec']).probes, ['exec'], 'exec alone stays');
  t.same(options(['exec', 'process', 'syscalls']).probes, ['process', 'syscalls'], 'exec dropped');
  t.same(options(['syscall_counts', 'syscalls']).probes, ['syscalls'], 'syscall_counts dropped likewise');
  t.same(options(['process', 'process']).probes, ['process'], 'a repeated name runs once');
  const defaults = options(DEFAULT_OPTIONS.probes).probes;
  t.notOk(defaults.includes('exec'), 'the default set runs process, not exec as well');
  t.same(
    defaults,
    BUILTIN_PROBES.filter((p) => !p.subsetOf && p.cost !== 'per-syscall').map((p) => p.name),
    'every other probe but the per-syscall ones, in order',
  );
  t.same(defaults, ['process', 'blockio', 'runqueue', 'oom', 'tcp'], 'the default set, by name');
  t.end();
});
