// The capabilities kernscope needs, decided from the options and the running
// kernel: to load and attach (requiredCapabilities(), the one source of truth
// for the start-up check and the deploy/ manifests) and, once everything is
// attached, to keep running (neededAfterAttach()). test/kernel/privileges.test.ts
// proves on the running kernel that the set is enough and that each member is
// needed.
import { readFileSync } from 'node:fs';
import { release } from 'node:os';

import type { Capability } from './capabilities';
import { CAPABILITY_BITS } from './capabilities';

/** The settings that change what loading needs (the agent's options are one). */
export interface BpfUse {
  /** BPF_ENABLE_STATS: program run time accounting. */
  bpfStats: boolean;
}

/** What decides, on one kernel, which capabilities BPF needs. */
export interface KernelPrivileges {
  /** `uname -r`. */
  release: string;
  /** The kernel knows CAP_BPF and CAP_PERFMON (Linux 5.8+: /proc/sys/kernel/cap_last_cap is 39 or more). */
  capBpf: boolean;
  /**
   * BPF memory is charged to RLIMIT_MEMLOCK (before Linux 5.11, which charges
   * the memory cgroup), so libbpf raises that limit, which needs
   * CAP_SYS_RESOURCE. Decided by the kernel version: libbpf's own probe loads
   * a program, which the start-up check cannot do before it knows the agent may.
   */
  memlock: boolean;
  /**
   * Every bpf() command, map reads through fds already held included, needs
   * CAP_BPF while kernel.unprivileged_bpf_disabled is set (before Linux 5.19,
   * commit c8644cd0efe7 "bpf: refine kernel.unprivileged_bpf_disabled
   * behaviour", which left the check on loading programs and creating maps).
   */
  bpfCallsPrivileged: boolean;
}

/** `5.10.0-28-amd64` -> [5, 10]. */
function versionOf(text: string): [number, number] {
  const match = /^(\d+)\.(\d+)/.exec(text);
  return match ? [Number(match[1]), Number(match[2])] : [0, 0];
}

function before(text: string, major: number, minor: number): boolean {
  const [ma, mi] = versionOf(text);
  return ma < major || (ma === major && mi < minor);
}

function readNumber(file: string): number {
  return Number(readFileSync(file, 'utf8').trim());
}

export function kernelPrivileges(
  kernelRelease = release(),
  lastCapability = readNumber('/proc/sys/kernel/cap_last_cap'),
  unprivilegedBpfDisabled = readNumber('/proc/sys/kernel/unprivileged_bpf_disabled'),
): KernelPrivileges {
  return {
    release: kernelRelease,
    capBpf: BigInt(lastCapability) >= CAPABILITY_BITS.BPF,
    memlock: before(kernelRelease, 5, 11),
    bpfCallsPrivileged: before(kernelRelease, 5, 19) && unprivilegedBpfDisabled !== 0,
  };
}

/**
 * The capabilities `kernscope run` needs to start with these options on this
 * kernel. Not needed: DAC_READ_SEARCH (tracefs, BTF and cgroupfs belong to
 * uid 0, which the agent runs as), SYS_PTRACE (no other process's /proc files
 * are read, except a `--netns /proc/PID/ns/net` given by the user).
 */
export function requiredCapabilities(options: BpfUse, kernel: KernelPrivileges = kernelPrivileges()): Capability[] {
  // BPF_ENABLE_STATS demands CAP_SYS_ADMIN, which also grants what BPF and PERFMON do.
  const bpf: Capability[] = options.bpfStats || !kernel.capBpf ? ['SYS_ADMIN'] : ['BPF', 'PERFMON'];
  return kernel.memlock ? [...bpf, 'SYS_RESOURCE'] : bpf;
}

/**
 * What the agent still needs once every probe is attached: nothing on Linux
 * 5.19+ (rings are mmap'd, maps are read and program stats fetched through
 * fds it holds, links are closed, cgroupfs is world-readable); before that,
 * with kernel.unprivileged_bpf_disabled set, what bpf() demands for map reads.
 */
export function neededAfterAttach(kernel: KernelPrivileges = kernelPrivileges()): Capability[] {
  if (!kernel.bpfCallsPrivileged) return [];
  return [kernel.capBpf ? 'BPF' : 'SYS_ADMIN'];
}

/** Why `cap` is required, for the message. */
function reason(cap: Capability, options: BpfUse, kernel: KernelPrivileges): string {
  switch (cap) {
    case 'SYS_RESOURCE':
      return `to raise RLIMIT_MEMLOCK, which Linux ${kernel.release} (before 5.11) charges BPF memory to`;
    case 'SYS_ADMIN':
      return options.bpfStats ? 'for --bpf-stats' : `to load BPF on Linux ${kernel.release} (no CAP_BPF before 5.8)`;
    case 'PERFMON':
      return 'to load tracing programs';
    default:
      return 'to load BPF programs and create maps';
  }
}

/** Capabilities in the CapEff line of a /proc status file. */
export function effectiveCapabilities(status: string): bigint {
  const line = status.split('\n').find((l) => l.startsWith('CapEff:'));
  return line ? BigInt(`0x${line.slice('CapEff:'.length).trim()}`) : 0n;
}

/** One line naming every required capability this process lacks and why, or undefined when it has them all. */
export function missingCapabilities(
  options: BpfUse,
  effective = effectiveCapabilities(readFileSync('/proc/self/status', 'utf8')),
  kernel: KernelPrivileges = kernelPrivileges(),
): string | undefined {
  const has = (cap: Capability): boolean => (effective & (1n << CAPABILITY_BITS[cap])) !== 0n;
  // CAP_SYS_ADMIN passes the kernel's checks for CAP_BPF and CAP_PERFMON too.
  const holds = (cap: Capability): boolean => has(cap) || ((cap === 'BPF' || cap === 'PERFMON') && has('SYS_ADMIN'));
  const missing = requiredCapabilities(options, kernel).filter((cap) => !holds(cap));
  if (missing.length === 0) return undefined;
  const named = missing.map((cap) => `CAP_${cap} (${reason(cap, options, kernel)})`).join(', ');
  const instead = missing.some((cap) => cap === 'BPF' || cap === 'PERFMON')
    ? ' (CAP_SYS_ADMIN also covers CAP_BPF and CAP_PERFMON)'
    : '';
  return `kernscope is missing ${named}: run it as root or grant these capabilities${instead}`;
}

/** The check of the commands that load probes with fixed settings (probes, trace, stats, top). */
export function missingBpfPrivileges(): string | undefined {
  return missingCapabilities({ bpfStats: false });
}
