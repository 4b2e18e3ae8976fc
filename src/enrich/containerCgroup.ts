// A container's cgroup v2 directory from its id, as `crictl ps`, `docker ps`
// or a pod status show it (12 to 64 hex digits), found by one walk of the
// hierarchy: the --container filter of `kernscope trace` is a cgroup filter.
import { readdirSync } from 'node:fs';
import path from 'node:path';

import { cgroup2Mount } from '../kernel/cgroup';
import { identify } from './cgroupPath';

export const CONTAINER_ID_ACCEPTED = 'a container id: 12 to 64 hex digits, as crictl ps or docker ps shows it';

export function isContainerId(value: string): boolean {
  return /^[0-9a-f]{12,64}$/.test(value);
}

/** The cgroup directory of the container whose id starts with `id`; throws naming the fix when none or several. */
export function containerCgroup(id: string, mount = cgroup2Mount()): string {
  if (!mount)
    throw new Error('--container needs cgroup v2, which is not mounted (mount -t cgroup2 none /sys/fs/cgroup)');
  const matches = new Map<string, string>(); // container id -> its directory
  const walk = (dir: string): void => {
    let entries;
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return; // removed while we walked
    }
    for (const entry of entries) {
      if (!entry.isDirectory()) continue;
      const child = path.join(dir, entry.name);
      const containerId = identify(path.relative(mount, child)).containerId;
      // The first directory naming the id is the container's; runtimes may nest their own below it.
      if (!containerId?.startsWith(id)) walk(child);
      else if (!matches.has(containerId)) matches.set(containerId, child);
    }
  };
  walk(mount);
  if (matches.size === 0)
    throw new Error(`no container ${id} on this host: give an id that crictl ps or docker ps shows`);
  if (matches.size > 1)
    throw new Error(`container id ${id} is ambiguous (${matches.size} containers): give more digits`);
  return [...matches.values()][0];
}
