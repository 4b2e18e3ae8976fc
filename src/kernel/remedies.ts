// The one-line fix for each reason an attach variant cannot be used here, so
// `kernscope probes` says what to do, not only what failed. A variant being
// skipped is normal where a later one works: the fix says what the preferred
// one would need.

const REMEDIES: readonly [RegExp, string][] = [
  [/no kernel BTF/, 'boot a kernel built with CONFIG_DEBUG_INFO_BTF=y (it provides /sys/kernel/btf/vmlinux)'],
  [/tracefs is not mounted/, 'mount -t tracefs tracefs /sys/kernel/tracing (or run as root: kernscope mounts it)'],
  [/no kprobes/, 'needs a kernel built with CONFIG_KPROBES=y'],
  [
    /(load|attach) refused: .*(EPERM|EACCES)/,
    'run as root or with CAP_BPF+CAP_PERFMON; if already privileged, the kernel refuses it (lockdown: cat /sys/kernel/security/lockdown; or no BPF trampoline on this architecture)',
  ],
  [
    /Cannot allocate memory/,
    'a smaller --ring-bytes, or more memory for kernscope (its BPF maps count against its memory cgroup)',
  ],
  [/program type not supported/, 'needs a newer kernel (this program type is missing)'],
  [
    /(EINVAL|ENOENT|ESRCH)/,
    'the kernel lacks this attach point or its BTF differs (a newer kernel, or a CONFIG_ option)',
  ],
];

/** What would make `reason` go away, or undefined when nothing general applies. */
export function remedyFor(reason: string): string | undefined {
  return REMEDIES.find(([pattern]) => pattern.test(reason))?.[1];
}
