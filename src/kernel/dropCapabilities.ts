// Least privilege once everything is attached: every thread of the process
// keeps only what the agent still needs (neededAfterAttach()) and what
// --capabilities-keep names, with empty inheritable and ambient sets, the
// bounding set cut to the same and no_new_privs. The addon makes each thread
// drop its own sets (they are per thread); /proc then says whether all did.
import { addon } from '../native/addon';
import type { Capability, ThreadCapabilities } from './capabilities';
import { CAPABILITY_BITS, capabilitiesIn, capabilityMask, parseCapability, threadCapabilities } from './capabilities';
import type { KernelPrivileges } from './privileges';
import { kernelPrivileges, neededAfterAttach } from './privileges';

/** `--capabilities-keep all`: drop nothing. */
export function keepsAll(keep: readonly string[]): boolean {
  return keep.length === 1 && keep[0].toLowerCase() === 'all';
}

export interface DroppedCapabilities {
  /** What every thread still holds. */
  kept: Capability[];
  threads: number;
}

/** The first way `thread` holds more than `kept`, or undefined. */
function excess(thread: ThreadCapabilities, kept: bigint, bounding: boolean): string | undefined {
  const sets: [string, bigint][] = [
    ['effective', thread.effective & ~kept],
    ['permitted', thread.permitted & ~kept],
    ['inheritable', thread.inheritable],
    ['ambient', thread.ambient],
    ['bounding', bounding ? thread.bounding & ~kept : 0n],
  ];
  const extra = sets.find(([, bits]) => bits !== 0n);
  const who = `thread ${thread.tid} (${thread.name})`;
  if (extra)
    return `${who} still has ${capabilitiesIn(extra[1])
      .map((c) => `CAP_${c}`)
      .join(', ')} in its ${extra[0]} set`;
  return thread.noNewPrivs ? undefined : `${who} has no no_new_privs`;
}

/**
 * Drops, in every thread, every capability but those still needed and those
 * `keep` names (`none`: no more), then checks every thread in /proc. Throws
 * one line naming what went wrong.
 */
export function dropCapabilities(
  keep: readonly string[],
  kernel: KernelPrivileges = kernelPrivileges(),
): DroppedCapabilities {
  const wanted = capabilityMask([
    ...neededAfterAttach(kernel),
    ...keep.map(parseCapability).filter((cap) => cap !== undefined),
  ]);
  const [self] = threadCapabilities().filter((t) => t.tid === process.pid);
  const kept = self.permitted & wanted;
  // The bounding set shrinks only with CAP_SETPCAP (see native/capabilities.cc).
  const bounding = (self.effective & (1n << CAPABILITY_BITS.SETPCAP)) !== 0n;
  const fix = 'to run without dropping them: --capabilities-keep all';
  let threads: number;
  try {
    threads = addon.dropCapabilities(wanted).threads;
  } catch (error) {
    throw new Error(`capabilities not dropped: ${(error as Error).message}; ${fix}`);
  }
  const problem = threadCapabilities()
    .map((thread) => excess(thread, kept, bounding))
    .find((found) => found !== undefined);
  if (problem) throw new Error(`capabilities not dropped: ${problem}; ${fix}`);
  return { kept: capabilitiesIn(kept), threads };
}
