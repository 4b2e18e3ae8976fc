// Throw-away memory cgroups with a small limit, for OOM workloads: cgroup v1's
// memory controller where it is mounted (hybrid layouts), else cgroup v2 with
// the memory controller enabled in the parent.
import { existsSync, mkdirSync, readFileSync, rmdirSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';

import { cgroup2Mount } from '../../src/kernel/cgroup';
import { createCgroup, removeCgroup } from './cgroup';
import type { HasTeardown } from './teardown';
import { sleep } from './teardown';

export interface MemoryCgroup {
  dir: string;
  version: 1 | 2;
  /** The cgroup's id: its directory's inode, as the kernel's kernfs node id. */
  id: bigint;
  /** File a process writes its pid to, to join. */
  procs: string;
  /** The kernel's own count of OOM kills in this cgroup. */
  oomKills(): number;
}

function mountOf(type: string, option?: string): string | undefined {
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const [left, right] = line.split(' - ');
    const fields = right?.split(' ');
    if (fields?.[0] !== type) continue;
    if (option && !fields[2]?.split(',').includes(option)) continue;
    return left?.split(' ')[4];
  }
  return undefined;
}

/** This process's own cgroup in the v1 hierarchy that has `controller`. */
function ownV1Cgroup(controller: string): string {
  for (const line of readFileSync('/proc/self/cgroup', 'utf8').split('\n')) {
    const [, controllers, dir] = line.split(':');
    if (controllers?.split(',').includes(controller)) return dir ?? '/';
  }
  return '/';
}

/** Where a memory cgroup can be made, or why not. */
function memoryParent(): { parent: string; version: 1 | 2 } | string {
  const v1 = mountOf('cgroup', 'memory');
  if (v1) return { parent: path.join(v1, ownV1Cgroup('memory')), version: 1 };
  const v2 = cgroup2Mount();
  if (!v2) return 'no memory cgroup hierarchy is mounted';
  if (!readFileSync(path.join(v2, 'cgroup.subtree_control'), 'utf8').split(/\s+/).includes('memory')) {
    return `the memory controller is not enabled in ${v2}/cgroup.subtree_control`;
  }
  return { parent: v2, version: 2 };
}

/** Why memory cgroups cannot be made here, or undefined when they can. */
export function memoryCgroupUnavailable(): string | undefined {
  const parent = memoryParent();
  return typeof parent === 'string' ? parent : undefined;
}

function killAll(procs: string): boolean {
  const pids = readFileSync(procs, 'utf8').split('\n').filter(Boolean).map(Number);
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone meanwhile
    }
  }
  return pids.length > 0;
}

/**
 * A memory cgroup limited to `limitBytes` with no swap; removed at teardown
 * (whatever is still in it is killed first).
 */
export function createMemoryCgroup(t: HasTeardown, limitBytes: number, prefix = 'kernscope-oom'): MemoryCgroup {
  const parent = memoryParent();
  if (typeof parent === 'string') throw new Error(`cannot create a memory cgroup: ${parent}`);
  const dir = path.join(parent.parent, `${prefix}-${process.pid}-${Date.now().toString(36)}`);
  mkdirSync(dir);
  t.teardown(async () => {
    if (!existsSync(dir)) return;
    for (let attempt = 0; attempt < 100; attempt++) {
      try {
        rmdirSync(dir);
        return;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
        killAll(path.join(dir, 'cgroup.procs'));
        await sleep(20);
      }
    }
    rmdirSync(dir);
  });
  const write = (file: string, value: string | number): void => writeFileSync(path.join(dir, file), String(value));
  if (parent.version === 1) {
    write('memory.limit_in_bytes', limitBytes);
    write('memory.swappiness', 0);
    // With swap accounting, memory+swap gets the same limit (only settable after the memory limit).
    if (existsSync(path.join(dir, 'memory.memsw.limit_in_bytes'))) write('memory.memsw.limit_in_bytes', limitBytes);
  } else {
    write('memory.max', limitBytes);
    if (existsSync(path.join(dir, 'memory.swap.max'))) write('memory.swap.max', 0);
  }
  const counts = parent.version === 1 ? 'memory.oom_control' : 'memory.events';
  return {
    dir,
    version: parent.version,
    id: statSync(dir, { bigint: true }).ino,
    procs: path.join(dir, 'cgroup.procs'),
    oomKills: () => {
      const line = readFileSync(path.join(dir, counts), 'utf8')
        .split('\n')
        .find((l) => l.startsWith('oom_kill '));
      return Number(line?.split(' ')[1] ?? NaN);
    },
  };
}

/**
 * A cgroup the agent's filters can name (cgroup v2) whose processes are in
 * `memcg` too, and the cgroup.procs files a process writes itself to, to
 * join both. With memcg in cgroup v1 (hybrid hosts) they are two cgroups,
 * one per hierarchy; with memcg in v2 (a process has one v2 cgroup), a
 * cgroup made inside the memory cgroup, sharing its limit (its memory
 * controller stays off, so the memory cgroup is memcg's).
 */
export function filteredCgroupIn(t: HasTeardown, memcg: MemoryCgroup): { cgroup: string; procs: string[] } {
  if (memcg.version === 1) {
    const cgroup = createCgroup(t);
    return { cgroup, procs: [path.join(cgroup, 'cgroup.procs'), memcg.procs] };
  }
  const cgroup = path.join(memcg.dir, `filtered-${Date.now().toString(36)}`);
  mkdirSync(cgroup);
  t.teardown(() => removeCgroup(cgroup));
  return { cgroup, procs: [path.join(cgroup, 'cgroup.procs')] };
}
