import { blockioProbe } from './blockio';
import { execProbe } from './exec';
import { oomProbe } from './oom';
import { processProbe } from './process';
import { runqueueProbe } from './runqueue';
import { syscallCountsProbe } from './syscallCounts';
import { syscallsProbe } from './syscalls';
import { tcpProbe } from './tcp';
import type { ProbeDefinition } from './ProbeDefinition';

/** Built-in probes, in the order `kernscope probes` lists them. */
export const BUILTIN_PROBES: readonly ProbeDefinition[] = [
  processProbe,
  execProbe,
  syscallsProbe,
  syscallCountsProbe,
  blockioProbe,
  runqueueProbe,
  oomProbe,
  tcpProbe,
];

/**
 * What `kernscope run` runs unless told otherwise: every probe but the
 * per-syscall ones, which cost a syscall-heavy service more than an always-on
 * agent may (README, "What each probe costs").
 */
export const DEFAULT_PROBES: readonly string[] = BUILTIN_PROBES.filter((p) => p.cost !== 'per-syscall').map(
  (p) => p.name,
);

/** User probes (--probe-dir), set once the settings naming their directories are read. */
let userProbes: readonly ProbeDefinition[] = [];

export function useUserProbes(probes: readonly ProbeDefinition[]): void {
  userProbes = probes;
}

/** Built-in probes, then user probes. */
export function allProbes(): readonly ProbeDefinition[] {
  return [...BUILTIN_PROBES, ...userProbes];
}

export function findProbe(name: string): ProbeDefinition | undefined {
  return allProbes().find((probe) => probe.name === name);
}
