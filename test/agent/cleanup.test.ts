// Nothing of ours stays in the kernel after the agent exits, whether it is
// asked to (SIGTERM) or killed outright (SIGKILL: the kernel drops its fds).
import t from 'tap';

import { AgentProcess } from '../helpers/agent';
import { bpfIdsOf, links, progs, waitGone } from '../helpers/bpftool';

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
