// Loading BPF needs CAP_BPF + CAP_PERFMON (Linux 5.8+) or CAP_SYS_ADMIN.
import { readFileSync } from 'node:fs';

const CAP_SYS_ADMIN = 21n;
const CAP_PERFMON = 38n;
const CAP_BPF = 39n;

function effectiveCapabilities(status: string): bigint {
  const line = status.split('\n').find((l) => l.startsWith('CapEff:'));
  return line ? BigInt(`0x${line.slice('CapEff:'.length).trim()}`) : 0n;
}

/** The missing capabilities as one line, or undefined when BPF can be loaded. */
export function missingBpfPrivileges(status = readFileSync('/proc/self/status', 'utf8')): string | undefined {
  const caps = effectiveCapabilities(status);
  const has = (cap: bigint): boolean => (caps & (1n << cap)) !== 0n;
  if (has(CAP_SYS_ADMIN) || (has(CAP_BPF) && has(CAP_PERFMON))) return undefined;
  const missing = [!has(CAP_BPF) && 'CAP_BPF', !has(CAP_PERFMON) && 'CAP_PERFMON'].filter(Boolean).join(' and ');
  return `kernscope needs ${missing} (or CAP_SYS_ADMIN) to load BPF programs: run it as root or grant those capabilities`;
}
