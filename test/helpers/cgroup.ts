// Throw-away cgroup v2 directories for filtered workloads, some shaped like a kubelet's.
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';

import { cgroup2Mount } from '../../src/kernel/cgroup';
import { run } from './process';
import type { HasTeardown } from './teardown';
import { sleep } from './teardown';

function killQuietly(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // gone meanwhile
  }
}

/** Removes a cgroup, killing what is left in it first (cgroup.kill from Linux 5.14, else each process). */
export async function removeCgroup(dir: string): Promise<void> {
  if (!existsSync(dir)) return;
  for (let attempt = 0; attempt < 100; attempt++) {
    try {
      rmdirSync(dir);
      return;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
      const pids = readFileSync(path.join(dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean);
      if (attempt === 0 && pids.length > 0) {
        if (existsSync(path.join(dir, 'cgroup.kill'))) writeFileSync(path.join(dir, 'cgroup.kill'), '1');
        else for (const pid of pids) killQuietly(Number(pid)); // before 5.14, one at a time
      }
      await sleep(20);
    }
  }
  rmdirSync(dir);
}

/** Creates a fresh cgroup v2 directory under the cgroup2 mount; removed at teardown. */
export function createCgroup(t: HasTeardown, prefix = 'kernscope-test'): string {
  const mount = cgroup2Mount();
  if (!mount) throw new Error('cgroup v2 is not mounted');
  const dir = path.join(mount, `${prefix}-${process.pid}-${Date.now().toString(36)}`);
  mkdirSync(dir);
  t.teardown(() => removeCgroup(dir));
  return dir;
}

/** A cgroup (and its parents) below `root`, removed at teardown, deepest first. */
export function nestedCgroup(t: HasTeardown, root: string, ...parts: string[]): string {
  let dir = root;
  for (const part of parts) {
    dir = path.join(dir, part);
    mkdirSync(dir);
    const made = dir;
    t.teardown(() => removeCgroup(made));
  }
  return dir;
}

/** The kubelet's systemd-driver slice of a BestEffort pod. */
export const podSlice = (uid: string): string => `kubepods-besteffort-pod${uid.replaceAll('-', '_')}.slice`;

/** Runs `count` execs of /bin/true in `cgroup` (the shell joins it first, with a builtin). */
export async function execsIn(cgroup: string, count: number): Promise<void> {
  const script = `echo $$ > ${cgroup}/cgroup.procs; i=0; while [ $i -lt ${count} ]; do /bin/true; i=$((i+1)); done`;
  const result = await run('/bin/sh', ['-c', script], { timeoutMs: 60000 });
  if (result.code !== 0) throw new Error(`workload failed: ${result.stderr}`);
}
