// Loading BPF needs CAP_BPF + CAP_PERFMON (Linux 5.8+) or CAP_SYS_ADMIN.
// requiredCapabilities() is the least set for given options, in the spelling
// of a Kubernetes securityContext; test/kernel/privileges.test.ts proves on the
// running kernel that the set is enough and that each member is needed.
import { readFileSync } from 'node:fs';

import type { AgentOptions } from '../config/AgentOptions';

export type Capability = 'BPF' | 'PERFMON' | 'SYS_ADMIN';

/** Bit numbers (linux/capability.h). */
export const CAPABILITY_BITS: Readonly<Record<Capability, bigint>> = { SYS_ADMIN: 21n, PERFMON: 38n, BPF: 39n };

/**
 * The capabilities `kernscope run` needs with these options. Not needed:
 * SYS_RESOURCE (since Linux 5.11 BPF memory is charged to the memory cgroup,
 * not RLIMIT_MEMLOCK), DAC_READ_SEARCH (tracefs, BTF and cgroupfs belong to
 * uid 0, which the agent runs as), SYS_PTRACE (no other process's /proc files
 * are read, except a `--netns /proc/PID/ns/net` given by the user).
 */
export function requiredCapabilities(options: Pick<AgentOptions, 'bpfStats'>): Capability[] {
  // BPF_ENABLE_STATS demands CAP_SYS_ADMIN, which also grants what BPF and PERFMON do.
  return options.bpfStats ? ['SYS_ADMIN'] : ['BPF', 'PERFMON'];
}

function effectiveCapabilities(status: string): bigint {
  const line = status.split('\n').find((l) => l.startsWith('CapEff:'));
  return line ? BigInt(`0x${line.slice('CapEff:'.length).trim()}`) : 0n;
}

/** The missing capabilities as one line, or undefined when BPF can be loaded. */
export function missingBpfPrivileges(status = readFileSync('/proc/self/status', 'utf8')): string | undefined {
  const caps = effectiveCapabilities(status);
  const has = (cap: Capability): boolean => (caps & (1n << CAPABILITY_BITS[cap])) !== 0n;
  if (has('SYS_ADMIN') || (has('BPF') && has('PERFMON'))) return undefined;
  const missing = [!has('BPF') && 'CAP_BPF', !has('PERFMON') && 'CAP_PERFMON'].filter(Boolean).join(' and ');
  return `kernscope needs ${missing} (or CAP_SYS_ADMIN) to load BPF programs: run it as root or grant those capabilities`;
}
