// Nothing of ours stays in the kernel after the agent exits, whether it is
// asked to (SIGTERM) or killed outright (SIGKILL: the kernel drops its fds),
// even in the middle of draining an exec storm; the next agent then attaches
// and counts as if nothing happened.
import t from 'tap';

import { AgentProcess } from '../helpers/agent';
import { bpfIdsOf, links, progs, waitGone } from '../helpers/bpftool';
import { createCgroup, execsIn } from '../helpers/cgroup';
import { valueOf } from '../helpers/metrics';
import { spawnClean } from '../helpers/process';
import { waitFor } from '../helpers/teardown';

const EXECS = 200;

async function runAndStop(t: tap.Test, signal: 'SIGTERM' | 'SIGKILL'): Promise<void> {
  const agent = await AgentProcess.start(t, ['--probes', 'exec']);

  // Exactly what the agent holds, from its fd table.
  const ours = bpfIdsOf(agent.pid);
  const progIds = new Set(ours.progIds);
  t.same(
    progs()
      .filter((p) => progIds.has(p.id))
      .map((p) => p.name),
    ['exec_tp_btf'],
    'while running: one program, the tp_btf variant',
  );
  t.same(
    links()
      .filter((l) => ours.linkIds.includes(l.id))
      .map((l) => l.prog_id),
    ours.progIds,
    'while running: one link, to it',
  );
  t.ok(ours.mapIds.length >= 3, `while running: its maps (${ours.mapIds.length}: events, drops, .rodata...)`);

  const exit = await agent.stop(signal, 5000);
  t.same(exit, signal === 'SIGTERM' ? { code: 0, signal: null } : { code: null, signal: 'SIGKILL' }, `${signal} exit`);

  const left = await waitGone(ours.progIds, ours.linkIds, 2500, ours.mapIds);
  t.same(left, { progs: [], links: [], maps: [] }, 'no program, link or map left');
}

void t.test('SIGTERM detaches and unloads', (t) => runAndStop(t, 'SIGTERM'));
void t.test('SIGKILL: the kernel releases everything', (t) => runAndStop(t, 'SIGKILL'));

void t.test('SIGKILL mid-drain under an exec storm, then a restart attaches cleanly and counts exactly', async (t) => {
  const stormCgroup = createCgroup(t, 'kernscope-storm');
  const first = await AgentProcess.start(t, ['--probes', 'exec', '--cgroup', stormCgroup]);
  // Two shells exec'ing /bin/true as fast as they can, on both cores, until killed.
  const storm = [1, 2].map(() =>
    spawnClean('/bin/sh', ['-c', `echo $$ > ${stormCgroup}/cgroup.procs; while :; do /bin/true; done`]),
  );
  t.teardown(() => storm.forEach((shell) => shell.kill('SIGKILL')));
  const drained = async (): Promise<number> =>
    valueOf(await first.metrics(), 'kernscope_events_total', { probe: 'exec' }) ?? 0;
  const before = await waitFor(
    'the storm to be drained',
    async () => {
      const n = await drained();
      return n >= 100 ? n : undefined;
    },
    { timeoutMs: 15000 },
  );
  // Drains come every 20 ms or so: wait for the next one, so the kill lands mid-drain.
  const during = await waitFor(
    'the next drain',
    async () => {
      const n = await drained();
      return n > before ? n : undefined;
    },
    { timeoutMs: 5000 },
  );
  t.ok(during > before, `still draining when killed (${before}, then ${during} records)`);
  const held = bpfIdsOf(first.pid);

  t.same(await first.stop('SIGKILL', 5000), { code: null, signal: 'SIGKILL' }, 'SIGKILL exit');
  t.ok(
    storm.every((shell) => shell.exitCode === null),
    'the storm was still running',
  );
  t.same(
    await waitGone(held.progIds, held.linkIds, 2500, held.mapIds),
    { progs: [], links: [], maps: [] },
    'no program, link or map left',
  );
  storm.forEach((shell) => shell.kill('SIGKILL'));

  const cgroup = createCgroup(t);
  const second = await AgentProcess.start(t, ['--probes', 'exec', '--cgroup', cgroup]);
  await execsIn(cgroup, EXECS);
  const samples = await waitFor('the second agent to count the workload', async () => {
    const now = await second.metrics();
    return valueOf(now, 'kernscope_events_total', { probe: 'exec' }) === EXECS ? now : undefined;
  });
  t.equal(valueOf(samples, 'kernscope_process_execs_total'), EXECS, 'restart: the workload counted exactly');
  t.equal(valueOf(samples, 'kernscope_events_lost_total', { probe: 'exec' }), 0, 'restart: nothing lost');
  t.same(await second.stop('SIGTERM', 5000), { code: 0, signal: null }, 'restart: SIGTERM exit 0');
});
