// Forcing an attach variant, and what this kernel should support. Forcing:
// the kernel's real features with the preferred kinds marked unavailable, so
// the loader falls back as it would on an older kernel. Expectations: from
// the kernel's build config where the kernel matrix (test/kernels) passes it,
// else the facts of this development machine (DESIGN.md).
import { readFileSync } from 'node:fs';
import os from 'node:os';

import type { AttachKind, KernelFeatures } from '../../src/native/addon';
import { addon } from '../../src/native/addon';
import type { AttachPoint, AttachVariant } from '../../src/probes/ProbeDefinition';

/** Attach kinds in the order every probe's variants prefer them. */
export const ATTACH_PREFERENCE: readonly AttachKind[] = [
  'fentry',
  'fexit',
  'kprobe',
  'kretprobe',
  'tp_btf',
  'raw_tp',
  'tracepoint',
];

/** This kernel's features with every kind preferred over `kind` marked unavailable: forces `kind` where offered. */
export function featuresFrom(kind: AttachKind, features = addon.kernelFeatures()): KernelFeatures {
  const attach = { ...features.attach };
  for (const skipped of ATTACH_PREFERENCE.slice(0, ATTACH_PREFERENCE.indexOf(kind))) {
    attach[skipped] = { ok: false, reason: `test: forcing ${kind}` };
  }
  return { ...features, attach };
}

/** The variant the loader picks at `point` under `features`: the first whose kind is available. */
export function expectedVariant(point: AttachPoint, features: KernelFeatures): AttachVariant | undefined {
  return point.variants.find((variant) => features.attach[variant.kind].ok);
}

/** The kernel's build config (`CONFIG_X=y` lines) where the kernel matrix names it; undefined elsewhere. */
function kernelConfig(): Map<string, string> | undefined {
  const file = process.env.KS_KERNEL_CONFIG;
  if (!file) return undefined;
  const config = new Map<string, string>();
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const match = /^(CONFIG_\w+)=(.*)$/.exec(line);
    if (match) config.set(match[1], match[2]);
  }
  return config;
}

/**
 * Whether kprobes and fentry should attach on this kernel. From the build
 * config under the kernel matrix (kprobes: CONFIG_KPROBES and the kprobe PMU
 * of CONFIG_KPROBE_EVENTS; fentry: BPF trampolines on ftrace direct calls);
 * on this machine: no kprobes compiled in, fentry refused (DESIGN.md).
 */
export function expectedTracing(): { kprobe: boolean; fentry: boolean } {
  const config = kernelConfig();
  if (!config) return { kprobe: false, fentry: false };
  const on = (name: string): boolean => config.get(name) === 'y';
  return {
    kprobe: on('CONFIG_KPROBES') && on('CONFIG_KPROBE_EVENTS'),
    fentry: on('CONFIG_BPF_JIT') && on('CONFIG_DYNAMIC_FTRACE_WITH_DIRECT_CALLS'),
  };
}

/** Whether the running kernel is `major.minor` or later (for a behaviour a kernel change introduced). */
export function kernelAtLeast(major: number, minor: number): boolean {
  const [have, haveMinor] = os.release().split(/[.-]/).map(Number);
  return have > major || (have === major && haveMinor >= minor);
}

/** A variant the kernels before `until` cannot load, and why: a known difference (README, Requirements). */
interface KernelGap {
  probe: string;
  kind: AttachKind;
  until: [number, number];
  why: string;
}

const KERNEL_GAPS: readonly KernelGap[] = [
  {
    probe: 'syscalls',
    kind: 'tp_btf',
    until: [5, 11],
    why: 'its start times live in task storage, which tracing programs have from 5.11',
  },
  {
    probe: 'oom',
    kind: 'tp_btf',
    until: [6, 1],
    why: 'mark_victim passes the victim task since commit 72ba14deb40a (backported to 6.1.y), its pid before',
  },
];

/** Why this kernel cannot load `probe` as `kind` (a known difference), or undefined when it can. */
export function kernelGap(probe: string, kind: AttachKind): string | undefined {
  const gap = KERNEL_GAPS.find((g) => g.probe === probe && g.kind === kind && !kernelAtLeast(...g.until));
  return gap && `${probe} as ${kind} needs Linux ${gap.until.join('.')}+: ${gap.why}`;
}

/** Every known difference of this kernel: what `kernscope probes` must report as skipped. */
export function kernelGaps(): { probe: string; kind: AttachKind; why: string }[] {
  return KERNEL_GAPS.filter((g) => !kernelAtLeast(...g.until)).map((g) => ({ ...g, why: kernelGap(g.probe, g.kind)! }));
}
