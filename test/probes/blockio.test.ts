// The blockio probe end to end: direct-I/O writes of a known size to a fresh
// loop device that nothing else touches, from a cgroup the test creates, read
// back through /metrics as an exact request count and byte total for that
// disk, the bytes attributed to that cgroup.
import path from 'node:path';

import t from 'tap';

import { AgentProcess } from '../helpers/agent';
import { createCgroup } from '../helpers/cgroup';
import { createLoopDevice } from '../helpers/loopDevice';
import type { Sample } from '../helpers/metrics';
import { select, sumOf, valueOf } from '../helpers/metrics';
import { run } from '../helpers/process';

const WRITES = 40;
const SIZE = 64 * 1024;

void t.test('direct writes to a loop device: exact count and bytes, labelled by disk name', async (t) => {
  const loop = await createLoopDevice(t);
  const agent = await AgentProcess.start(t, ['--probes', 'blockio']);
  const write = { device: loop.name, op: 'write' };
  const onDevice = (samples: Sample[], name: string): number => sumOf(samples, name, { device: loop.name });

  // The device is new and unread, but measure the change around the workload anyway.
  const before = await agent.metrics();
  const cgroup = createCgroup(t);
  const dd = await run('/bin/sh', [
    '-c',
    `echo $$ > ${cgroup}/cgroup.procs && exec dd if=/dev/zero of=${loop.path} bs=${SIZE} count=${WRITES} oflag=direct conv=notrunc status=none`,
  ]);
  t.same({ code: dd.code, stderr: dd.stderr }, { code: 0, stderr: '' }, 'dd wrote');
  // O_DIRECT writes return after their completion: everything is counted now.
  const after = await agent.metrics();

  const delta = (name: string, labels: Record<string, string>): number =>
    (valueOf(after, name, labels) ?? 0) - (valueOf(before, name, labels) ?? 0);
  t.equal(delta('kernscope_block_io_duration_seconds_count', write), WRITES, 'one write request per dd block');
  t.equal(delta('kernscope_block_io_bytes_total', write), WRITES * SIZE, 'bytes written');
  // The owner is the request's blkcg where cgroup v2 runs the io controller, else the issuing task's cgroup.
  t.same(
    select(after, 'kernscope_block_io_bytes_total', write).map((s) => [s.labels.container, s.value]),
    [[path.basename(cgroup), WRITES * SIZE]],
    'the bytes belong to the cgroup that wrote them',
  );
  t.equal(
    onDevice(after, 'kernscope_block_io_duration_seconds_count') -
      onDevice(before, 'kernscope_block_io_duration_seconds_count'),
    WRITES,
    'no other request on the device',
  );

  const buckets = select(after, 'kernscope_block_io_duration_seconds_bucket', write);
  t.equal(
    buckets.find((b) => b.labels.le === '+Inf')?.value,
    valueOf(after, 'kernscope_block_io_duration_seconds_count', write),
    '+Inf bucket holds every request',
  );
  t.same(
    buckets.slice(0, 3).map((b) => b.labels.le),
    [2 ** -19, 2 ** -17, 2 ** -15].map(String),
    'bucket bounds are slot edges, powers of two of a second',
  );
  const sum = delta('kernscope_block_io_duration_seconds_sum', write);
  t.ok(sum > 0 && sum < WRITES * 1, `latency sum is plausible (${sum} s for ${WRITES} writes)`);
  t.equal(valueOf(after, 'kernscope_events_lost_total', { probe: 'blockio' }), 0, 'nothing lost');
  t.same(
    select(after, 'kernscope_probe_info', { probe: 'blockio' })
      .map((s) => `${s.labels.program} ${s.labels.attach}`)
      .sort(),
    ['blockio_complete_tp_btf tp_btf', 'blockio_issue_tp_btf tp_btf'],
    'attached as tp_btf',
  );
});
