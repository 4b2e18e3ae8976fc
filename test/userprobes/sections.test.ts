// SEC() names as libbpf's auto-attach reads them, and those kernscope refuses.
import t from 'tap';

import { variantOfSection } from '../../src/userprobes/sections';

void t.test('each supported section: its kind and target', (t) => {
  const cases: [string, object][] = [
    ['tp_btf/sched_switch', { kind: 'tp_btf', program: 'p' }],
    ['raw_tp/sched_switch', { kind: 'raw_tp', program: 'p', target: 'sched_switch' }],
    ['raw_tracepoint/sys_exit', { kind: 'raw_tp', program: 'p', target: 'sys_exit' }],
    ['tracepoint/sched/sched_switch', { kind: 'tracepoint', program: 'p', target: 'sched/sched_switch' }],
    ['tp/timer/timer_start', { kind: 'tracepoint', program: 'p', target: 'timer/timer_start' }],
    ['fentry/tcp_connect', { kind: 'fentry', program: 'p' }],
    ['fexit/tcp_connect', { kind: 'fexit', program: 'p' }],
    ['kprobe/tcp_connect', { kind: 'kprobe', program: 'p', target: 'tcp_connect' }],
    ['kretprobe/tcp_connect', { kind: 'kretprobe', program: 'p', target: 'tcp_connect' }],
  ];
  for (const [section, variant] of cases) t.same(variantOfSection('p', section), variant, section);
  t.end();
});

void t.test('sections kernscope does not attach', (t) => {
  for (const section of [
    'uprobe/libc.so.6:malloc',
    'usdt/python3:python:x',
    'perf_event',
    'xdp',
    'tp_btf/',
    'tracepoint/sched',
    'kprobe.multi/tcp_*',
  ]) {
    t.equal(variantOfSection('p', section), undefined, section);
  }
  t.end();
});
