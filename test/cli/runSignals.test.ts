// SIGTERM at awkward moments of `kernscope run`. During start-up (before the
// agent serves) the signal takes its default action: the process ends at
// once, killed by SIGTERM, and the kernel releases whatever it had loaded
// (nothing is pinned). Once serving, SIGTERM is an orderly stop, exit 0, even
// with /metrics requests in flight or arriving during the stop.
import t from 'tap';

import { AgentProcess } from '../helpers/agent';
import type { BpfIds } from '../helpers/bpftool';
import { bpfIdsHeldUntilExit, bpfIdsOf, waitGone } from '../helpers/bpftool';
import { httpGet } from '../helpers/net';
import { waitFor } from '../helpers/teardown';

// The last export and the detach get 5 s (run.ts); a second more for the process to go.
const EXIT_WITHIN_MS = 6000;

const STARTUP_POINTS: { name: string; reached: (agent: AgentProcess) => Promise<unknown> }[] = [
  { name: 'at once', reached: () => Promise.resolve() },
  { name: 'its first probe attached', reached: (agent) => holding(agent, (ids) => ids.linkIds.length > 0) },
  { name: 'three programs attached', reached: (agent) => holding(agent, (ids) => ids.linkIds.length >= 3) },
  { name: 'six programs attached', reached: (agent) => holding(agent, (ids) => ids.linkIds.length >= 6) },
];

function holding(agent: AgentProcess, enough: (ids: BpfIds) => boolean): Promise<true> {
  return waitFor(
    'the agent to load',
    () => {
      if (!agent.running) throw new Error(`agent exited early:\n${agent.log}`);
      return enough(bpfIdsOf(agent.pid)) ? true : undefined;
    },
    { timeoutMs: 20000, intervalMs: 1 },
  );
}

for (const point of STARTUP_POINTS) {
  void t.test(`SIGTERM during start-up, ${point.name}: killed at once, nothing left`, async (t) => {
    const agent = await AgentProcess.spawn(t, []); // every probe: the longest start-up
    const exited = agent.exited(20000);
    const held = bpfIdsHeldUntilExit(agent.pid, exited);
    await point.reached(agent);
    const signalled = Date.now();
    agent.child.kill('SIGTERM');
    t.same(await exited, { code: null, signal: 'SIGTERM' }, 'ended by the signal');
    t.ok(Date.now() - signalled < 1000, `within a second (${Date.now() - signalled} ms)`);
    t.notOk(agent.log.includes('kernscope running'), 'it was still starting');
    const ids = await held;
    t.same(
      await waitGone(ids.progIds, ids.linkIds, 2500, ids.mapIds),
      { progs: [], links: [], ...(ids.mapIds.length ? { maps: [] } : {}) },
      `none of the ${ids.progIds.length} programs, ${ids.linkIds.length} links and ${ids.mapIds.length} maps it held is left`,
    );
  });
}

void t.test('SIGTERM with /metrics requests in flight and arriving: exit 0 in time, nothing left', async (t) => {
  const agent = await AgentProcess.start(t, []);
  const held = bpfIdsOf(agent.pid);
  const exited = agent.exited(EXIT_WITHIN_MS);
  const outcomes = new Map<string, number>();
  // Scrapes back to back, four at a time, from before the signal until the process is gone.
  let gone = false;
  void exited.then(() => (gone = true));
  const scraper = async (): Promise<void> => {
    while (!gone) {
      const outcome = await httpGet(agent.port, '/metrics', 5000).then(
        (r) => String(r.status),
        (error: NodeJS.ErrnoException) => error.code ?? error.message,
      );
      outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
    }
  };
  const scrapers = [1, 2, 3, 4].map(() => scraper());
  await waitFor('a scrape to complete', () => ((outcomes.get('200') ?? 0) > 0 ? true : undefined));
  agent.child.kill('SIGTERM');
  t.same(await exited, { code: 0, signal: null }, `exit 0 within ${EXIT_WITHIN_MS} ms`);
  await Promise.all(scrapers);
  t.comment(`scrape outcomes: ${JSON.stringify(Object.fromEntries(outcomes))}`);
  t.same(
    agent.log.split('\n').filter((line) => line !== '' && !line.startsWith('level=info')),
    [],
    'nothing but info lines: no error, no stack trace',
  );
  t.same(
    await waitGone(held.progIds, held.linkIds, 2500, held.mapIds),
    { progs: [], links: [], maps: [] },
    'no program, link or map left',
  );
});
