// The oom probe against real OOM kills: a python3 process joins a memory
// cgroup limited to 32 MiB without swap (cgroup v1's memory controller here,
// v2 where that is how memory is controlled) and a cgroup v2 directory (the
// agent's filter), then touches memory until the kernel kills it with SIGKILL.
// Checked through a real agent (tp_btf), and in-process for both variants,
// where the record's fields are compared with what the test knows.
import { statSync } from 'node:fs';

import path from 'node:path';

import t from 'tap';

import { RecordLayout } from '../../src/decode/RecordLayout';
import { RingDrain } from '../../src/drain/RingDrain';
import { resolveCgroup } from '../../src/kernel/cgroup';
import { ensureTracefs } from '../../src/kernel/tracefs';
import { ProbeLoader } from '../../src/load/ProbeLoader';
import type { AttachKind } from '../../src/native/addon';
import { oomProbe } from '../../src/probes/oom';
import { AgentProcess } from '../helpers/agent';
import { featuresFrom, kernelGap } from '../helpers/features';
import { sumU64, u32 } from '../helpers/bytes';
import type { MemoryCgroup } from '../helpers/memcg';
import { createMemoryCgroup, filteredCgroupIn, memoryCgroupUnavailable } from '../helpers/memcg';
import { select, valueOf } from '../helpers/metrics';
import { run, spawnClean, waitExit } from '../helpers/process';
import { RecordCollector } from '../helpers/recordCollector';
import { sleep, waitFor } from '../helpers/teardown';

const LIMIT = 32 * 1024 * 1024;
const RECORD_BYTES = 88; // _Static_assert in bpf/oom.h

/**
 * Joins the cgroups named on the command line, then allocates and touches
 * memory in 1 MiB pieces, in `threads` threads at once. Gives up (exit 3)
 * after 1 GiB, so a limit that does not hold fails the test instead of
 * exhausting the machine.
 */
const HOG = `
import os, sys, threading
threads = int(sys.argv[1])
for procs in sys.argv[2:]:
    with open(procs, 'w') as f:
        f.write(str(os.getpid()))
def hog():
    chunks = []
    for _ in range(1024 // threads):
        chunks.append(b'x' * (1 << 20))
workers = [threading.Thread(target=hog) for _ in range(threads - 1)]
for w in workers:
    w.start()
hog()
for w in workers:
    w.join()
os._exit(3)
`;

interface Killed {
  pid: number;
  exit: unknown;
}

/** Runs the hog in `cgroupProcs` (cgroup.procs files); resolves with its pid and how it ended. */
async function oomKill(cgroupProcs: string[], threads = 1): Promise<Killed> {
  const child = spawnClean('python3', ['-c', HOG, String(threads), ...cgroupProcs]);
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exit = await waitExit(child, 30000);
  if (exit === 'timeout') child.kill('SIGKILL');
  return { pid: child.pid!, exit: exit === 'timeout' ? exit : { ...exit, stderr } };
}

const KILLED = { code: null, signal: 'SIGKILL', stderr: '' };

const unavailable = memoryCgroupUnavailable();

// The agent picks tp_btf where the kernel passes the victim task, the classic tracepoint before.
const AGENT_KIND = kernelGap('oom', 'tp_btf') ? 'tracepoint' : 'tp_btf';

void t.test(
  `agent: one OOM kill in the filtered cgroup is counted once (${AGENT_KIND})`,
  { skip: unavailable ?? false },
  async (t) => {
    const memcg = createMemoryCgroup(t, LIMIT);
    const { cgroup, procs } = filteredCgroupIn(t, memcg);
    const agent = await AgentProcess.start(t, ['--probes', 'oom', '--cgroup', cgroup]);
    t.equal(valueOf(await agent.metrics(), 'kernscope_oom_kills_total'), 0, 'the counter exists at 0');

    const killed = await oomKill(procs);
    t.same(killed.exit, KILLED, 'the hog was killed by SIGKILL');
    t.equal(memcg.oomKills(), 1, 'the kernel counted one OOM kill in the memory cgroup');

    // The count is read from the kernel at scrape; the record drains within ~20 ms.
    await waitFor('the OOM record', async () =>
      valueOf(await agent.metrics(), 'kernscope_events_total', { probe: 'oom' }) === 1 ? true : undefined,
    );
    await sleep(200); // nothing more may arrive
    const samples = await agent.metrics();
    t.equal(valueOf(samples, 'kernscope_oom_kills_total'), 1, 'one OOM kill');
    t.same(
      select(samples, 'kernscope_oom_victims_total'),
      [
        {
          name: 'kernscope_oom_victims_total',
          labels: { namespace: 'host', pod: '', container: path.basename(cgroup) },
          value: 1,
        },
      ],
      'the victim, by the cgroup it ran in',
    );
    t.equal(valueOf(samples, 'kernscope_events_total', { probe: 'oom' }), 1, 'one record');
    t.equal(valueOf(samples, 'kernscope_events_lost_total', { probe: 'oom' }), 0, 'nothing lost');
    t.same(
      select(samples, 'kernscope_probe_info', { probe: 'oom' }).map((s) => s.labels),
      [{ probe: 'oom', program: `oom_${AGENT_KIND}`, attach: AGENT_KIND }],
      `attached as ${AGENT_KIND}`,
    );
    const exit = await agent.stop('SIGTERM', 5000);
    if (!t.same(exit, { code: 0, signal: null }, 'SIGTERM exits 0')) t.comment(agent.log);
  },
);

/** Loads the oom probe in this process with only `kind` (and later variants) allowed, with these filters. */
function loadInProcess(kind: AttachKind, filter: { cgroup?: string; comm?: string }) {
  const loaded = new ProbeLoader(featuresFrom(kind)).load(oomProbe, {
    ringBytes: 1 << 16,
    wakeupBytes: 1 << 16,
    cgroup: filter.cgroup === undefined ? undefined : resolveCgroup(filter.cgroup),
    comm: filter.comm,
  });
  const records = new RecordCollector();
  const drain = new RingDrain(loaded.object, records.sink, { intervalMs: 1000 });
  return {
    loaded,
    drain,
    records,
    kills: () => sumU64(loaded.object.lookup('oom_kills', u32(0))!),
    close: () => {
      drain.stop();
      loaded.object.close();
    },
  };
}

/** What the record of `killed` must hold: it ran the killer itself (its own allocation failed). */
function expectedRecord(killed: Killed, memcg: MemoryCgroup, cgroup: string): Record<string, unknown> {
  const cgroupId = Number(statSync(cgroup).ino);
  return {
    'hdr.tgid': killed.pid,
    'hdr.cgroup_id': cgroupId,
    victim_pid: killed.pid,
    victim_uid: process.getuid!(),
    victim_cgroup_id: cgroupId,
    memcg_id: Number(memcg.id),
    comm: 'python3',
    trigger_comm: /^(python3|Thread-)/, // a thread of the victim; newer Pythons name their threads
  };
}

for (const kind of ['tp_btf', 'tracepoint'] as const) {
  const skip = unavailable ?? kernelGap('oom', kind) ?? ((kind === 'tracepoint' && ensureTracefs()) || false);
  void t.test(
    `in-process (${kind}): victims outside the filter are not counted, each kill once`,
    { skip },
    async (t) => {
      const memcg = createMemoryCgroup(t, LIMIT);
      const { cgroup, procs } = filteredCgroupIn(t, memcg);
      const probe = loadInProcess(kind, { cgroup });
      t.teardown(probe.close);
      t.same(
        probe.loaded.chosen.map((c) => c.variant.kind),
        [kind],
        `attached as ${kind}`,
      );
      const layout = RecordLayout.fromObject(probe.loaded.object, 'oom_record');
      t.equal(layout.size, RECORD_BYTES, 'oom_record size agrees with the C _Static_assert');

      const outside = await oomKill([memcg.procs]);
      t.same(outside.exit, KILLED, 'a victim outside the filtered cgroup was killed');
      t.equal(memcg.oomKills(), 1, 'the kernel counted it');
      probe.drain.drain();
      t.equal(probe.kills(), 0, 'not counted: the filter applies to the victim');
      t.equal(probe.records.records.length, 0, 'no record');

      const inside = await oomKill(procs, 4);
      t.same(inside.exit, KILLED, 'a four-thread victim in the filtered cgroup was killed');
      t.equal(memcg.oomKills(), 2, 'the kernel counted it');
      probe.drain.drain();
      t.equal(probe.kills(), 1, 'counted once, however many of its threads were marked');
      const records = probe.records.decoded(layout);
      t.equal(records.length, 1, 'one record');
      t.match(records[0], expectedRecord(inside, memcg, cgroup), 'the record describes the victim');
      t.equal(sumU64(probe.loaded.object.lookup('drops', u32(0))!), 0, 'nothing lost');
    },
  );
}

/** Holds `mib` MiB, named ks-victim and first in line for the OOM killer; prints "ready" once it holds it. */
const VICTIM = `
import ctypes, os, signal, sys
ctypes.CDLL(None).prctl(15, b'ks-victim', 0, 0, 0)  # PR_SET_NAME
with open('/proc/self/oom_score_adj', 'w') as f:
    f.write('1000')
for procs in sys.argv[2:]:
    with open(procs, 'w') as f:
        f.write(str(os.getpid()))
held = [b'x' * (1 << 20) for _ in range(int(sys.argv[1]))]
print('ready', flush=True)
while True:
    signal.pause()
`;

/** Allocates `mib` MiB in 1 MiB pieces, then exits 0. */
const ALLOCATOR = `
import os, sys
for procs in sys.argv[2:]:
    with open(procs, 'w') as f:
        f.write(str(os.getpid()))
held = [b'x' * (1 << 20) for _ in range(int(sys.argv[1]))]
`;

void t.test(
  'in-process (tp_btf): the filters follow the victim, not the task whose allocation ran the killer',
  { skip: unavailable ?? kernelGap('oom', 'tp_btf') ?? false },
  async (t) => {
    const memcg = createMemoryCgroup(t, 2 * LIMIT);
    const { cgroup, procs } = filteredCgroupIn(t, memcg);
    const probe = loadInProcess('tp_btf', { cgroup });
    t.teardown(probe.close);
    // Comm filters together with the cgroup filter: other OOM kills on this machine stay out.
    const byVictimComm = loadInProcess('tp_btf', { cgroup, comm: 'ks-victim' });
    t.teardown(byVictimComm.close);
    const byKillerComm = loadInProcess('tp_btf', { cgroup, comm: 'python3' });
    t.teardown(byKillerComm.close);
    const layout = RecordLayout.fromObject(probe.loaded.object, 'oom_record');

    // The victim holds 40 of the 64 MiB inside the filtered cgroup; the
    // allocator, outside it, then needs 40 more: its charge runs the killer.
    const victim = spawnClean('python3', ['-c', VICTIM, '40', ...procs]);
    t.teardown(() => void victim.kill('SIGKILL'));
    let output = '';
    victim.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    victim.stderr.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    await waitFor('the victim to hold its memory', () => (output.includes('ready') ? true : undefined), {
      timeoutMs: 15000,
    });
    const victimExit = waitExit(victim, 30000);
    const allocator = await run('python3', ['-c', ALLOCATOR, '40', memcg.procs], { timeoutMs: 30000 });
    t.same({ code: allocator.code, stderr: allocator.stderr }, { code: 0, stderr: '' }, 'the allocator finished');
    t.same(await victimExit, { code: null, signal: 'SIGKILL' }, 'the victim was killed');
    t.equal(memcg.oomKills(), 1, 'the kernel counted one OOM kill');

    probe.drain.drain();
    t.equal(probe.kills(), 1, 'counted: the victim is in the filtered cgroup');
    t.equal(byVictimComm.kills(), 1, "counted under a comm filter naming the victim's command");
    t.equal(byKillerComm.kills(), 0, "not counted under a comm filter naming the killer's command");
    const records = probe.records.decoded(layout);
    t.equal(records.length, 1, 'one record');
    const cgroupId = Number(statSync(cgroup).ino);
    t.match(
      records[0],
      {
        victim_pid: victim.pid,
        comm: 'ks-victim',
        victim_cgroup_id: cgroupId,
        memcg_id: Number(memcg.id),
        trigger_comm: 'python3',
      },
      'the victim fields describe the victim',
    );
    t.not(records[0]?.['hdr.tgid'], victim.pid, 'the header describes the task that ran the killer');
    t.not(records[0]?.['hdr.cgroup_id'], cgroupId, 'which is outside the filtered cgroup');
  },
);
