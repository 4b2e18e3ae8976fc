// Histogram slot counts come from each object's BTF, not from a constant.
import t from 'tap';

import { everySlotBuckets, histogramsOf } from '../../src/config/probeOptions';
import { histogramSlots } from '../../src/decode/histogramSlots';
import { findProbe } from '../../src/probes';

void t.test('each latency histogram has the slots of its schema (2 + 64 * 2^schema)', (t) => {
  for (const name of ['tcp', 'syscalls', 'blockio', 'runqueue']) {
    const probe = findProbe(name)!;
    t.equal(histogramSlots(probe, histogramsOf(probe)[0]), 66, `${name}: schema 0`);
  }
  t.end();
});

void t.test('stats and top see every slot: 2^-30 .. 2^33 s, then +Inf', (t) => {
  const tcp = everySlotBuckets(findProbe('tcp')!).kernscope_tcp_connect_duration_seconds;
  t.equal(tcp.length, 64, '66 slots: zero, 64 finite edges (the last one is +Inf)');
  t.equal(tcp[0], 2 ** -30);
  t.equal(tcp[tcp.length - 1], 2 ** 33);
  t.end();
});
