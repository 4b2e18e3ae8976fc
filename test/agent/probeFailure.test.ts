// A probe that fails half-way through start-up, for real: the agent runs in a
// memory cgroup with room for one probe's ring buffer but not two (BPF maps
// are charged to it), so the first probe (exec) loads and attaches and the
// second (oom) cannot create its ring (ENOMEM). By default the agent runs on
// without it; with --strict start-up fails and nothing is left in the kernel.
import t from 'tap';

import { AgentProcess } from '../helpers/agent';
import { bpfIdsHeldUntilExit, bpfIdsOf, links, progs, waitGone } from '../helpers/bpftool';
import { createCgroup, execsIn } from '../helpers/cgroup';
import { createMemoryCgroup, memoryCgroupUnavailable } from '../helpers/memcg';
import { valueOf } from '../helpers/metrics';
import { lines } from '../helpers/process';
import { waitFor } from '../helpers/teardown';

const RING_BYTES = 256 * 1024 * 1024;
// The agent itself peaks at ~60 MiB: one ring fits with ~60 MiB to spare, two miss by ~190 MiB.
const MEMORY_LIMIT = 384 * 1024 * 1024;
const EXECS = 50;
const ARGS = ['--probes', 'exec,oom', '--ring-bytes', String(RING_BYTES), '--attribution', 'false'];
const FAILURE =
  "probe oom: load failed: map 'events': failed to create: Cannot allocate memory(-12); fix: a smaller --ring-bytes, or more memory for kernscope (its BPF maps count against its memory cgroup)";

const skip = memoryCgroupUnavailable() ?? false;

void t.test('default: the agent runs on without the probe that failed', { skip }, async (t) => {
  const memcg = createMemoryCgroup(t, MEMORY_LIMIT, 'kernscope-faults');
  const cgroup = createCgroup(t);
  const agent = await AgentProcess.start(t, [...ARGS, '--cgroup', cgroup], { cgroupProcs: memcg.procs });
  t.ok(agent.log.includes(`msg="probe not attached" probe=oom reason="${FAILURE}"`), 'the reason is logged');

  const held = bpfIdsOf(agent.pid);
  t.same(
    progs()
      .filter((p) => held.progIds.includes(p.id))
      .map((p) => p.name),
    ['exec_tp_btf'],
    'only the exec program is loaded: nothing of oom',
  );
  t.same(
    links()
      .filter((l) => held.linkIds.includes(l.id))
      .map((l) => l.prog_id),
    held.progIds,
    'and one link, to it',
  );

  await execsIn(cgroup, EXECS);
  const samples = await waitFor('the execs to be counted', async () => {
    const now = await agent.metrics();
    return valueOf(now, 'kernscope_events_total', { probe: 'exec' }) === EXECS ? now : undefined;
  });
  t.equal(valueOf(samples, 'kernscope_process_execs_total'), EXECS, 'the attached probe counts exactly');
  t.equal(valueOf(samples, 'kernscope_probe_up', { probe: 'exec' }), 1, 'probe_up{exec} 1');
  t.equal(valueOf(samples, 'kernscope_probe_up', { probe: 'oom' }), 0, 'probe_up{oom} 0');
  t.same(await agent.stop('SIGTERM', 5000), { code: 0, signal: null }, 'SIGTERM: exit 0');
});

void t.test('--strict: start-up fails with one line, exit 1, nothing left', { skip }, async (t) => {
  const memcg = createMemoryCgroup(t, MEMORY_LIMIT, 'kernscope-faults');
  const agent = await AgentProcess.spawn(t, [...ARGS, '--strict'], { cgroupProcs: memcg.procs });
  const exited = agent.exited(20000);
  const held = await bpfIdsHeldUntilExit(agent.pid, exited);
  t.same(await exited, { code: 1, signal: null }, 'exit 1');
  t.same(
    lines(agent.log).filter((line) => !line.startsWith('level=')),
    [`kernscope: ${FAILURE}`],
    'one line naming the probe, the problem and the fix',
  );
  t.ok(agent.log.includes('msg="probe attached" probe=exec'), 'exec had attached before oom failed');
  t.ok(held.linkIds.length >= 1, `exec's link was seen while it ran (${held.linkIds.length})`);
  t.same(
    await waitGone(held.progIds, held.linkIds, 2500, held.mapIds),
    { progs: [], links: [], maps: [] },
    'no program, link or map left',
  );
});
