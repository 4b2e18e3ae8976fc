// User probe directories at the command line: a good one checks without
// root and lists its probes; a bad one is one line naming the file, the key
// and the fix, exit 2, whichever command reads it (run, probes, stats).
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import t from 'tap';

import { CLI, ROOT } from '../helpers/paths';
import type { RunResult } from '../helpers/process';
import { lines, run } from '../helpers/process';
import type { HasTeardown } from '../helpers/teardown';

const EXAMPLES = path.join(ROOT, 'examples');
const EXAMPLE_PROBES = [
  'blockio_latency',
  'exec_argc',
  'sched_migrations',
  'skb_drops',
  'softirqs',
  'syscall_errors',
  'tcp_requests',
  'timer_starts',
];

function kernscope(args: string[], asNobody = false): Promise<RunResult> {
  if (!asNobody) return run(process.execPath, [CLI, ...args], { timeoutMs: 15000 });
  return run(
    'setpriv',
    ['--reuid=65534', '--regid=65534', '--clear-groups', '--inh-caps=-all', process.execPath, CLI, ...args],
    { timeoutMs: 15000 },
  );
}

/** A probe directory holding exec_argc's object as NAME.bpf.o and `yaml` as NAME.yaml. */
function probeDir(t: HasTeardown, yaml: string, name = 'mine'): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'kernscope-probes-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  copyFileSync(path.join(EXAMPLES, 'exec_argc.bpf.o'), path.join(dir, `${name}.bpf.o`));
  writeFileSync(path.join(dir, `${name}.yaml`), yaml);
  return dir;
}

const EXEC_ARGC = `metrics:
  histograms:
    - name: exec_arguments
      help: h
      bucket_type: linear
      bucket_min: 0
      bucket_max: 16
      labels:
        - {name: comm, size: 16, decoders: [{name: string}]}
        - {name: bucket, size: 4, decoders: [{name: uint}]}
`;

void t.test('the examples check without root: every probe, with its metrics named', async (t) => {
  const result = await kernscope(
    ['run', '--check-config', '--probe-dir', EXAMPLES, '--probes', EXAMPLE_PROBES.join(',')],
    true,
  );
  t.same({ code: result.code, stderr: result.stderr }, { code: 0, stderr: '' }, 'exit 0 as nobody');
  t.match(result.stdout, `config ok: probes ${EXAMPLE_PROBES.join(',')};`);
  t.end();
});

void t.test('probe_dirs and metric_prefix from the environment', async (t) => {
  const result = await run(
    '/usr/bin/env',
    [
      `KERNSCOPE_PROBE_DIRS=${EXAMPLES}`,
      'KERNSCOPE_METRIC_PREFIX=ebpf_exporter_',
      process.execPath,
      CLI,
      'run',
      '--check-config',
      '--probes',
      'exec_argc,process',
    ],
    { timeoutMs: 15000 },
  );
  t.equal(result.code, 0, result.stderr);
  t.match(result.stdout, 'config ok: probes exec_argc,process;');
  t.end();
});

void t.test('the same config under another name: a probe of that name', async (t) => {
  const dir = probeDir(t, EXEC_ARGC);
  const result = await kernscope(['run', '--check-config', '--probe-dir', dir, '--probes', 'mine']);
  t.same({ code: result.code, stderr: result.stderr }, { code: 0, stderr: '' });
  t.end();
});

/** Each bad probe directory, made by `make`, and a pattern its one line must match. */
const BAD: [what: string, make: (t: HasTeardown) => string, args: string[], message: RegExp][] = [
  [
    'a directory that does not exist',
    () => '/nonexistent/probes',
    [],
    /^kernscope: invalid --probe-dir: "\/nonexistent\/probes"; expected readable directories \("\/nonexistent\/probes" is not one\)$/,
  ],
  [
    'a built-in probe name',
    (t) => probeDir(t, EXEC_ARGC, 'exec'),
    [],
    /\/exec\.yaml: exec is a built-in probe's name; rename both files \(e\.g\. exec_user\)$/,
  ],
  [
    'a YAML without its object',
    (t) => {
      const dir = probeDir(t, EXEC_ARGC);
      rmSync(path.join(dir, 'mine.bpf.o'));
      return dir;
    },
    [],
    /\/mine\.yaml: mine\.bpf\.o is missing beside it: build it with clang -target bpf -g -O2$/,
  ],
  [
    'a metric without its map',
    (t) => probeDir(t, EXEC_ARGC.replace('exec_arguments', 'exec_args')),
    [],
    /\/mine\.yaml: metrics\.histograms\[0\]\.name: mine\.bpf\.o has no map exec_args \(a metric reads the map of its name; maps: exec_arguments, exec_events\)$/,
  ],
  [
    'labels that do not add up to the key',
    (t) => probeDir(t, EXEC_ARGC.replace('size: 4, decoders', 'size: 8, decoders')),
    [],
    /\/mine\.yaml: metrics\.histograms\[0\]\.labels: the labels' sizes and paddings add up to 24 bytes, but map exec_arguments's key has 20$/,
  ],
  [
    'a world-writable object',
    (t) => {
      const dir = probeDir(t, EXEC_ARGC);
      chmodSync(path.join(dir, 'mine.bpf.o'), 0o666);
      return dir;
    },
    [],
    /\/mine\.bpf\.o: writable by every user, so anyone could choose what the agent loads; chmod o-w \S+$/,
  ],
  [
    'an object that does not match its sum',
    (t) => {
      const dir = probeDir(t, EXEC_ARGC);
      writeFileSync(path.join(dir, 'mine.bpf.o.sha256'), `${'0'.repeat(64)}  mine.bpf.o\n`);
      return dir;
    },
    [],
    /\/mine\.bpf\.o: does not match \S+mine\.bpf\.o\.sha256: rebuild it, or write its new sum with sha256sum$/,
  ],
  [
    'an object that is not one',
    (t) => {
      const dir = probeDir(t, EXEC_ARGC);
      writeFileSync(path.join(dir, 'mine.bpf.o'), 'not an ELF file');
      return dir;
    },
    [],
    /\/mine\.bpf\.o: cannot open: .+; build it with clang -target bpf -g -O2 \(BTF needed\)$/,
  ],
  [
    'a bad key in the YAML',
    (t) => probeDir(t, EXEC_ARGC.replace('bucket_min', 'bucket_mn')),
    [],
    /\/mine\.yaml: metrics\.histograms\[0\]\.bucket_mn: unknown key; expected one of name, help, labels, bucket_type, bucket_min, bucket_max, bucket_multiplier, bucket_keys$/,
  ],
  [
    'kaddrs the object does not declare',
    (t) => probeDir(t, `kaddrs: [tcp_connect]\n${EXEC_ARGC}`),
    [],
    /\/mine\.yaml: kaddrs\[0\]: mine\.bpf\.o has no u64 kaddr_tcp_connect: declare const volatile u64 kaddr_tcp_connect = 0; in mine\.bpf\.c$/,
  ],
  [
    'a probe name that is in no directory',
    (t) => probeDir(t, EXEC_ARGC),
    ['--probes', 'yours'],
    /^kernscope: invalid --probes: "yours"; expected a non-empty list of probes among .*, mine \("yours" is none of them\)$/,
  ],
];

void t.test('bad probe directories: one line each, exit 2', async (t) => {
  for (const [what, make, args, message] of BAD) {
    const dir = make(t);
    const result = await kernscope(['run', '--check-config', '--probe-dir', dir, '--probes', 'mine', ...args]);
    t.equal(result.code, 2, `${what}: exit 2`);
    t.equal(lines(result.stderr).length, 1, `${what}: one line`);
    t.match(result.stderr.trim(), message, what);
  }
  t.end();
});

void t.test('the same probe name in two directories', async (t) => {
  const [a, b] = [probeDir(t, EXEC_ARGC), probeDir(t, EXEC_ARGC)];
  const result = await kernscope(['run', '--check-config', '--probe-dir', a, '--probe-dir', b, '--probes', 'mine']);
  t.equal(result.code, 2);
  t.match(result.stderr.trim(), /\/mine\.yaml: probe mine is also in \S+\/mine\.yaml; rename one$/);
  t.end();
});

void t.test('probes and stats read --probe-dir as run does', async (t) => {
  const dir = probeDir(t, EXEC_ARGC.replace('bucket_type: linear', 'bucket_type: log'));
  for (const args of [['probes'], ['stats', 'mine']]) {
    const result = await kernscope([...args, '--probe-dir', dir]);
    t.equal(result.code, 2, `${args[0]}: exit 2`);
    t.match(
      result.stderr.trim(),
      /\/mine\.yaml: metrics\.histograms\[0\]\.bucket_type: expected one of exp2, exp2zero, linear, fixed, got "log"$/,
    );
  }
  t.end();
});

/** A tiny object declaring kaddr_<symbol>, built here with clang as a user would build theirs. */
function objectWithKaddr(dir: string, symbol: string): void {
  const source = path.join(dir, 'mine.bpf.c');
  writeFileSync(
    source,
    `#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
const volatile __u64 kaddr_${symbol} = 0;
struct { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, 1); __type(key, __u32); __type(value, __u64); } starts_total SEC(".maps");
SEC("tp_btf/sched_process_exec") int on_exec(void *ctx) { __u32 k = 0; __u64 *v = bpf_map_lookup_elem(&starts_total, &k); if (v && kaddr_${symbol}) __sync_fetch_and_add(v, 1); return 0; }
char LICENSE[] SEC("license") = "GPL";
`,
  );
  const arch = process.arch === 'arm64' ? 'arm64' : 'x86_64';
  execFileSync('clang', [
    '-g',
    '-O2',
    '-target',
    'bpf',
    '-I',
    path.join(ROOT, 'bpf', 'vmlinux', arch),
    '-c',
    source,
    '-o',
    path.join(dir, 'mine.bpf.o'),
  ]);
  writeFileSync(
    path.join(dir, 'mine.yaml'),
    `kaddrs: [${symbol}]\nmetrics:\n  counters:\n    - {name: starts_total, help: h}\n`,
  );
}

void t.test(
  'a kaddrs symbol the kernel does not have: the probe is not attached; --strict: one line, exit 1',
  async (t) => {
    const dir = mkdtempSync(path.join(tmpdir(), 'kernscope-probes-'));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    objectWithKaddr(dir, 'no_such_symbol_ks');
    const result = await kernscope([
      'run',
      '--listen',
      '127.0.0.1:0',
      '--strict',
      '--probe-dir',
      dir,
      '--probes',
      'mine',
    ]);
    t.equal(result.code, 1, 'exit 1');
    t.equal(
      result.stderr.trim(),
      'kernscope: probe mine: kaddrs: no kernel symbol no_such_symbol_ks in /proc/kallsyms (data symbols need CONFIG_KALLSYMS_ALL)',
    );
  },
);
