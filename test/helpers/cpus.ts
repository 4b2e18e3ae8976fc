// The kernel's count of possible CPUs, read apart from the addon so tests can
// check what the addon derives from it.
import { readFileSync } from 'node:fs';

/** CPUs in /sys/devices/system/cpu/possible (a list of ranges: "0-3", "0,2-5"). */
export function possibleCpus(): number {
  let count = 0;
  for (const range of readFileSync('/sys/devices/system/cpu/possible', 'utf8').trim().split(',')) {
    const [first, last = first] = range.split('-').map(Number);
    count += last - first + 1;
  }
  return count;
}
