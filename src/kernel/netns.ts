// Network-namespace filters: probes whose events run in softirq context (tcp)
// cannot filter by process, so they filter by the socket's network namespace,
// identified by the inode of its nsfs file.
import { statSync, statfsSync } from 'node:fs';

const NSFS_MAGIC = 0x6e736673;

/** The inode number of a network namespace file (/run/netns/NAME, /proc/PID/ns/net), or an error naming the fix. */
export function resolveNetns(file: string): number {
  let inode: number;
  try {
    inode = statSync(file).ino;
  } catch {
    throw new Error(`network namespace ${file} does not exist: give /run/netns/NAME or /proc/PID/ns/net`);
  }
  if (statfsSync(file).type !== NSFS_MAGIC) {
    throw new Error(`${file} is not a namespace file: give /run/netns/NAME or /proc/PID/ns/net`);
  }
  return inode;
}
