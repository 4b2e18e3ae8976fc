// Histogram slot counts come from each object's BTF, not from a constant.
import t from 'tap';

import { everySlotBuckets, histogramsOf } from '../../src/config/probeOptions';
import { histogramSlots } from '../../src/decode/histogramSlots';
import { findProbe } from '../../src/probes';

void t.test('each histogram has the slots its value struct declares', (t) => {
  const tcp = findProbe('tcp')!;
  const syscalls = findProbe('syscalls')!;
  t.equal(histogramSlots(tcp, histogramsOf(tcp)[0]), 33, 'tcp: 2^32 ns is an edge');
  t.equal(histogramSlots(syscalls, histogramsOf(syscalls)[0]), 32);
  t.end();
});

void t.test('stats and top see every slot, tcp its last one too', (t) => {
  const tcp = everySlotBuckets(findProbe('tcp')!).kernscope_tcp_connect_duration_seconds;
  t.equal(tcp.length, 32, '33 slots: 32 finite edges and +Inf');
  t.equal(tcp[tcp.length - 1], 4.294967296);
  const syscalls = everySlotBuckets(findProbe('syscalls')!).kernscope_syscall_duration_seconds;
  t.equal(syscalls.length, 31);
  t.equal(syscalls[syscalls.length - 1], 2.147483648);
  t.end();
});
