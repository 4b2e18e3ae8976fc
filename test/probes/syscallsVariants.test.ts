// Each attach variant of the syscalls and syscall_counts probes on its own:
// tp_btf keeps each thread's start time in task storage, raw_tp and classic
// tracepoints in a hash, syscall_counts keeps none; the same exact workload
// must read the same through every one, and only the maps the chosen
// variants use are created.
import t from 'tap';

import { mapFamilies } from '../../src/aggregate/MapMetrics';
import type { MetricFamily } from '../../src/aggregate/MetricFamily';
import { ensureTracefs } from '../../src/kernel/tracefs';
import { ProbeLoader } from '../../src/load/ProbeLoader';
import type { AttachKind } from '../../src/native/addon';
import { addon } from '../../src/native/addon';
import type { ProbeDefinition } from '../../src/probes/ProbeDefinition';
import { syscallCountsProbe } from '../../src/probes/syscallCounts';
import { syscallsProbe } from '../../src/probes/syscalls';
import { bpfIdsOf, maps } from '../helpers/bpftool';
import { kernelGap } from '../helpers/features';
import { syscallWorkload } from '../helpers/syscallWorkload';

const CALLS = 3000;
const FAILURES = 11;
const TASK_STARTS = 'syscall_task_starts';
const HASH_STARTS = 'syscall_starts';
const KINDS: AttachKind[] = ['tp_btf', 'raw_tp', 'tracepoint'];

const tracefsNote = ensureTracefs();

/** Names of the maps this process holds, as the kernel keeps them (at most 15 bytes). */
function heldMapNames(): string[] {
  const held = new Set(bpfIdsOf(process.pid).mapIds);
  return maps()
    .filter((m) => held.has(m.id))
    .map((m) => m.name ?? '');
}

function sampleOf(family: MetricFamily, labels: Record<string, string>): { value?: number; count?: number } {
  const samples = family.collect() as { labels: Record<string, string>; value?: number; count?: number }[];
  return samples.find((s) => Object.entries(labels).every(([k, v]) => s.labels[k] === v)) ?? {};
}

const cases: { probe: ProbeDefinition; startMap: (kind: AttachKind) => string | undefined }[] = [
  { probe: syscallsProbe, startMap: (kind) => (kind === 'tp_btf' ? TASK_STARTS : HASH_STARTS) },
  { probe: syscallCountsProbe, startMap: () => undefined },
];

for (const { probe, startMap } of cases) {
  for (const kind of KINDS) {
    const skip = kernelGap(probe.name, kind) ?? (kind === 'tracepoint' && tracefsNote ? tracefsNote : false);
    void t.test(`${probe.name} as ${kind}: exact counts, errors and latency observations`, { skip }, async (t) => {
      const workload = await syscallWorkload(t, { getppid: CALLS, badCloses: FAILURES });
      // The kinds preferred over this one are made to look unavailable.
      const features = addon.kernelFeatures();
      for (const other of KINDS.slice(0, KINDS.indexOf(kind))) {
        features.attach[other] = { ok: false, reason: 'skipped by this test' };
      }
      const loaded = new ProbeLoader(features).load(probe, { ringBytes: 4096, wakeupBytes: 4096, tgid: workload.pid });
      t.teardown(() => loaded.object.close());
      t.same(
        loaded.chosen.map((c) => c.variant.kind),
        probe.attach.map(() => kind),
        `every attach point as ${kind}`,
      );
      const created = heldMapNames();
      for (const map of [TASK_STARTS, HASH_STARTS]) {
        const wanted = map === startMap(kind);
        t.equal(created.includes(map.slice(0, 15)), wanted, `${map} ${wanted ? '' : 'not '}created`);
      }

      await workload.run();
      const families = new Map(
        mapFamilies(loaded.object, probe.mapMetrics, { limits: { maxSeries: 1000, ttlMs: 0 } }).map((f) => [f.name, f]),
      );
      const getppid = { syscall: 'getppid' };
      t.equal(sampleOf(families.get('kernscope_syscalls_total')!, getppid).value, CALLS, 'getppid calls');
      const ebadf = { syscall: 'close', errno: 'EBADF' };
      t.equal(sampleOf(families.get('kernscope_syscall_errors_total')!, ebadf).value, FAILURES, 'EBADF closes');
      const latency = families.get('kernscope_syscall_duration_seconds');
      if (probe === syscallsProbe) t.equal(latency && sampleOf(latency, getppid).count, CALLS, 'latency observations');
      else t.equal(latency, undefined, 'no latency histogram');
    });
  }
}
