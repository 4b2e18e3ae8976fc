import { execProbe } from './exec';
import type { ProbeDefinition } from './ProbeDefinition';

/** Built-in probes, in the order `kernscope probes` lists them. */
export const BUILTIN_PROBES: readonly ProbeDefinition[] = [execProbe];

export function findProbe(name: string): ProbeDefinition | undefined {
  return BUILTIN_PROBES.find((probe) => probe.name === name);
}
