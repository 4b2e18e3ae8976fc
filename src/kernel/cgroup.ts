// cgroup v2 filters: the kernel side matches bpf_get_current_ancestor_cgroup_id
// at the target's depth, so a pod cgroup also selects its containers.
import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';

export interface CgroupTarget {
  id: bigint;
  level: number;
}

/** Mount point of the cgroup v2 hierarchy (unified or hybrid layout). */
export function cgroup2Mount(mountinfo = readFileSync('/proc/self/mountinfo', 'utf8')): string | undefined {
  for (const line of mountinfo.split('\n')) {
    const [left, right] = line.split(' - ');
    if (right?.startsWith('cgroup2 ')) return left?.split(' ')[4];
  }
  return undefined;
}

/** The id (inode) and depth of a cgroup v2 directory, or an error naming the fix. */
export function resolveCgroup(cgroupPath: string): CgroupTarget {
  const mount = cgroup2Mount();
  if (!mount)
    throw new Error('cgroup filter needs cgroup v2, which is not mounted (mount -t cgroup2 none /sys/fs/cgroup)');
  const absolute = path.resolve(cgroupPath.startsWith('/') ? cgroupPath : path.join(mount, cgroupPath));
  const relative = path.relative(mount, absolute);
  if (relative.startsWith('..')) throw new Error(`cgroup ${cgroupPath} is not under the cgroup v2 mount ${mount}`);
  let stat;
  try {
    stat = statSync(absolute, { bigint: true });
  } catch {
    throw new Error(`cgroup ${absolute} does not exist: give a directory under ${mount}`);
  }
  if (!stat.isDirectory()) throw new Error(`cgroup ${absolute} is not a directory`);
  return { id: stat.ino, level: relative === '' ? 0 : relative.split(path.sep).length };
}
