// A stalled consumer: a real agent stopped with SIGSTOP while a burst of ten
// times its ring's capacity of execs happens. The kernel keeps producing into
// the full ring; each record it cannot reserve counts as lost, so /metrics
// shows consumed + lost == produced exactly. After SIGCONT the agent drains
// again and loses nothing more.
import { readFileSync } from 'node:fs';

import t from 'tap';

import { AgentProcess } from '../helpers/agent';
import { createCgroup, execsIn } from '../helpers/cgroup';
import type { Sample } from '../helpers/metrics';
import { valueOf } from '../helpers/metrics';
import { httpGet } from '../helpers/net';
import { waitFor } from '../helpers/teardown';

const RING_BYTES = 4096;
const RECORD_BYTES = 184 + 8; // sizeof(struct exec_record) + BPF_RINGBUF_HDR_SZ
const CAPACITY = Math.floor(RING_BYTES / RECORD_BYTES);
const BURST = 10 * CAPACITY;
// After the stall: rounds small enough for the ring, each drained before the next.
const ROUNDS = 5;
const PER_ROUND = 10;

/** The process state letter from /proc/PID/stat ('T': stopped). */
function stateOf(pid: number): string {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2)[0] ?? '?';
}

const counts = (samples: Sample[]) => ({
  consumed: valueOf(samples, 'kernscope_events_total', { probe: 'exec' }) ?? NaN,
  lost: valueOf(samples, 'kernscope_events_lost_total', { probe: 'exec' }) ?? NaN,
  execs: valueOf(samples, 'kernscope_process_execs_total') ?? NaN,
});

void t.test('ring full while the agent is stopped: lost == produced - consumed, then it recovers', async (t) => {
  const cgroup = createCgroup(t);
  const agent = await AgentProcess.start(t, [
    '--probes',
    'exec',
    '--cgroup',
    cgroup,
    '--ring-bytes',
    String(RING_BYTES),
    '--attribution',
    'false',
  ]);

  agent.child.kill('SIGSTOP');
  t.teardown(() => void agent.child.kill('SIGCONT'));
  await waitFor('the agent to be stopped', () => (stateOf(agent.pid) === 'T' ? true : undefined));
  await execsIn(cgroup, BURST);
  agent.child.kill('SIGCONT');

  const afterStall = await waitFor(
    'every record of the burst drained or counted lost',
    async () => {
      const now = counts(await agent.metrics());
      return now.consumed + now.lost === BURST ? now : undefined;
    },
    { timeoutMs: 10000 },
  );
  t.equal(afterStall.consumed + afterStall.lost, BURST, `consumed ${afterStall.consumed} + lost ${afterStall.lost}`);
  t.ok(afterStall.consumed <= CAPACITY, `no more consumed than the ring holds (${CAPACITY})`);
  t.ok(afterStall.consumed > 0, 'what the ring held was drained after SIGCONT');
  t.equal(afterStall.execs, afterStall.consumed, 'every consumed record counted as an exec');
  t.equal((await httpGet(agent.port, '/readyz')).status, 200, 'ready again');

  for (let round = 1; round <= ROUNDS; round++) {
    await execsIn(cgroup, PER_ROUND);
    const expected = afterStall.consumed + round * PER_ROUND;
    await waitFor(`round ${round} drained`, async () =>
      counts(await agent.metrics()).consumed >= expected ? true : undefined,
    );
  }
  t.same(
    counts(await agent.metrics()),
    {
      consumed: afterStall.consumed + ROUNDS * PER_ROUND,
      lost: afterStall.lost,
      execs: afterStall.consumed + ROUNDS * PER_ROUND,
    },
    `recovered: the next ${ROUNDS * PER_ROUND} execs all consumed, none lost`,
  );
  t.same(await agent.stop('SIGTERM', 5000), { code: 0, signal: null }, 'SIGTERM: exit 0');
});
