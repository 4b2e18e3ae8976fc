// Each attach variant of the blockio probe on its own (the agent uses the
// first this kernel supports): the same exact workload must read the same
// through every one, including the classic tracepoints, which key requests by
// disk and sector instead of by address.
import t from 'tap';

import { mapFamilies } from '../../src/aggregate/MapMetrics';
import type { HistogramFamily, ScalarFamily } from '../../src/aggregate/MetricFamily';
import { ensureTracefs } from '../../src/kernel/tracefs';
import { ProbeLoader } from '../../src/load/ProbeLoader';
import { addon } from '../../src/native/addon';
import { blockioProbe } from '../../src/probes/blockio';
import type { AttachKind } from '../../src/native/addon';
import { createLoopDevice } from '../helpers/loopDevice';
import { run } from '../helpers/process';

const WRITES = 25;
const READS = 10;
const SIZE = 16 * 1024;

// Classic tracepoints need tracefs (the agent mounts it the same way).
const tracefsNote = ensureTracefs();

for (const kind of ['tp_btf', 'raw_tp', 'tracepoint'] as AttachKind[]) {
  const skip = kind === 'tracepoint' && tracefsNote ? tracefsNote : false;
  void t.test(`${kind}: exact writes and reads on a loop device`, { skip }, async (t) => {
    const definition = {
      ...blockioProbe,
      attach: blockioProbe.attach.map((point) => ({
        ...point,
        variants: point.variants.filter((v) => v.kind === kind),
      })),
    };
    const loaded = new ProbeLoader(addon.kernelFeatures()).load(definition, { ringBytes: 4096, wakeupBytes: 4096 });
    t.teardown(() => loaded.object.close());
    t.same(
      loaded.chosen.map((c) => c.variant.kind),
      [kind, kind],
      `both attach points as ${kind}`,
    );
    const [histogram, bytes] = mapFamilies(loaded.object, definition.mapMetrics, {
      limits: { maxSeries: 100, ttlMs: 0 },
    }) as [HistogramFamily, ScalarFamily];

    const loop = await createLoopDevice(t);
    const dd = (args: string[]) => run('dd', [...args, `bs=${SIZE}`, 'status=none']);
    const wrote = await dd(['if=/dev/urandom', `of=${loop.path}`, `count=${WRITES}`, 'oflag=direct', 'conv=notrunc']);
    t.equal(wrote.code, 0, `dd write ${wrote.stderr}`);
    const read = await dd([`if=${loop.path}`, 'of=/dev/null', `count=${READS}`, 'iflag=direct']);
    t.equal(read.code, 0, `dd read ${read.stderr}`);

    const requests = (op: string) =>
      histogram.collect().find((s) => s.labels.device === loop.name && s.labels.op === op)?.count ?? 0;
    const byteCount = (op: string) =>
      bytes.collect().find((s) => s.labels.device === loop.name && s.labels.op === op)?.value ?? 0;
    t.equal(requests('write'), WRITES, 'write requests');
    t.equal(byteCount('write'), WRITES * SIZE, 'bytes written');
    t.equal(requests('read'), READS, 'read requests');
    t.equal(byteCount('read'), READS * SIZE, 'bytes read');
    const ops = histogram
      .collect()
      .filter((s) => s.labels.device === loop.name)
      .map((s) => s.labels.op)
      .sort();
    t.same(ops, ['read', 'write'], 'nothing else on the device');
  });
}
