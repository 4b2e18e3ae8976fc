// `kernscope probes`: the kernel's own verdict per probe.
import t from 'tap';

import { BUILTIN_PROBES } from '../../src/probes';
import { expectedTracing, kernelGaps } from '../helpers/features';
import { CLI } from '../helpers/paths';
import { lines, runNode } from '../helpers/process';

interface Report {
  features: { btf: boolean; ringbuf: boolean; attach: Record<string, { ok: boolean; reason?: string }> };
  probes: {
    probe: string;
    supported: boolean;
    attach: { point: string; kind: string; program: string }[];
    rejected: { point: string; kind: string; reason: string; fix?: string }[];
  }[];
}

void t.test('probes --json', async (t) => {
  const result = await runNode(CLI, ['probes', '--json'], 30000);
  t.equal(result.code, 0, 'exit 0');
  let report: Report | undefined;
  t.doesNotThrow(() => (report = JSON.parse(result.stdout) as Report), 'stdout is JSON');
  if (!report) return;
  t.same(
    report.probes.map((p) => p.probe),
    BUILTIN_PROBES.map((p) => p.name),
    'every built-in probe, in order',
  );
  const exec = report.probes.find((p) => p.probe === 'exec');
  t.match(exec, { supported: true, attach: [{ point: 'sched_process_exec', kind: 'tp_btf', program: 'exec_tp_btf' }] });
  // What this kernel should support (expectedTracing: the build config under the kernel matrix, else DESIGN.md).
  const tracing = expectedTracing();
  t.match(report.features, {
    btf: true,
    ringbuf: true,
    attach: {
      tp_btf: { ok: true },
      raw_tp: { ok: true },
      tracepoint: { ok: true },
      kprobe: { ok: tracing.kprobe },
      fentry: { ok: tracing.fentry },
    },
  });
  // tcp prefers fentry, then kprobe, for its connect points: each one this kernel lacks is skipped with its fix.
  const tcp = report.probes.find((p) => p.probe === 'tcp')!;
  const missing = (['fentry', 'kprobe'] as const).filter((kind) => !tracing[kind]);
  t.same(
    tcp.rejected.map((r) => `${r.point} ${r.kind}`),
    ['connect_v4', 'connect_v6'].flatMap((point) => missing.map((kind) => `${point} ${kind}`)),
    'tcp: the variants this kernel cannot use',
  );
  // What this kernel cannot load, where the matrix knows why (kernelGaps): skipped with a reason, the next kind used.
  for (const gap of kernelGaps()) {
    const probe = report.probes.find((p) => p.probe === gap.probe);
    t.ok(
      probe?.supported && probe.rejected.some((r) => r.kind === gap.kind && r.reason !== ''),
      `${gap.why}: reported as skipped, with the kernel's reason`,
    );
  }
  if (!tracing.kprobe) {
    t.match(tcp.rejected.find((r) => r.kind === 'kprobe')?.fix, /CONFIG_KPROBES=y/, 'the fix for missing kprobes');
  }
  if (!tracing.fentry) {
    t.match(tcp.rejected.find((r) => r.kind === 'fentry')?.fix, /CAP_BPF/, 'the fix for a refused fentry');
  }
});

void t.test('probes (text)', async (t) => {
  const result = await runNode(CLI, ['probes'], 30000);
  t.equal(result.code, 0);
  t.match(result.stdout, /^kernel: btf=yes ringbuf=yes /);
  t.match(result.stdout, /\nexec +tp_btf \(exec_tp_btf\)\n/);
  if (expectedTracing().fentry) {
    t.match(result.stdout, /\ntcp +fentry \(tcp_connect_v4_fentry\)/, 'tcp connects on fentry, nothing skipped');
  } else {
    t.match(
      result.stdout,
      /skipped kprobe: kprobe unavailable: kernel has no kprobes \(CONFIG_KPROBES off\) \(connect_v4, connect_v6\)\n +fix: needs a kernel built with CONFIG_KPROBES=y\n/,
      'a skipped variant once, with the points it concerns and its fix',
    );
  }
});

void t.test('probes --bogus: exit 2, one line', async (t) => {
  const result = await runNode(CLI, ['probes', '--bogus'], 15000);
  t.equal(result.code, 2);
  t.equal(lines(result.stderr).length, 1);
});
