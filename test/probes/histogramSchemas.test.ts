// Every latency probe loads and attaches at every native histogram schema
// (--histogram-schema: its NAME.schemaN.bpf.o), on this kernel and, in the
// kernel matrix, on the stock ones: the kernel holds maps of the schema's
// value size (bpftool), and the run-queue histogram counts.
import t from 'tap';

import { AgentProcess } from '../helpers/agent';
import { bpfIdsOf, mapById } from '../helpers/bpftool';
import { valueOf } from '../helpers/metrics';

const PROBES = ['syscalls', 'runqueue', 'blockio', 'tcp'];
const HISTOGRAM_MAPS = ['syscall_stats', 'runqueue_stats', 'blockio_stats', 'tcp_totals'];

for (const schema of [1, 2, 3]) {
  void t.test(`schema ${schema}: the latency probes attach with its slots`, async (t) => {
    const agent = await AgentProcess.start(t, [
      ...['--probes', PROBES.join(','), '--strict'],
      ...['--histogram-schema', String(schema)],
    ]);
    const slots = 2 + (64 << schema);
    const sizes = new Map(bpfIdsOf(agent.child.pid!).mapIds.map((id) => [mapById(id).name, mapById(id).bytes_value]));
    for (const map of HISTOGRAM_MAPS) {
      const header = map === 'tcp_totals' ? 24 : 8; // tcp_totals: failures, retransmits, sum before the slots
      t.equal(sizes.get(map), header + 8 * slots, `${map}: ${slots} slots`);
    }
    const samples = await agent.metrics();
    for (const probe of PROBES) t.equal(valueOf(samples, 'kernscope_probe_up', { probe }), 1, `${probe} up`);
    t.ok(
      (valueOf(samples, 'kernscope_runqueue_latency_seconds_count') ?? 0) > 0,
      'the run-queue histogram counts context switches',
    );
  });
}
